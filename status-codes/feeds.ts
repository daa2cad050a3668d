// Codes and texts of the feeds layer (feeds/): opkg config files, Packages indexes, usign signatures, refresh, catalog.
// Kept beside status-codes/index.ts (not in it) so the feeds work merges without touching the shared table.
/** Error codes of feed configuration, index, signature and refresh failures. */
export const FeedErrorCode = {
  BAD_CONFIG: -40,
  BAD_INDEX: -41,
  BAD_SIGNATURE: -42,
  FETCH_FAILED: -43,
  TOO_LARGE: -44,
} as const;

/** Texts; each names the file, line, feed or URL it is about. */
export const FeedText = {
  configTooLarge: (file: string, bytes: number, max: number) => `${file}: ${bytes} bytes is more than the ${max}-byte limit for an opkg config file`,
  tooManyConfigFiles: (dir: string, count: number, max: number) => `${dir}: ${count} *.conf files is more than the limit of ${max}`,
  tooManyConfigLines: (file: string, max: number) => `${file}: more than ${max} lines`,
  configUnreadable: (file: string, why: string) => `${file}: cannot read: ${why}`,
  // Warnings as opkg prints them (libopkg/opkg_conf.c), prefixed with file:line like opkg's.
  invalidLine: (file: string, line: number, text: string) => `${file}:${line}: Ignoring invalid line: \`${text}'`,
  trailingGarbage: (file: string, line: number, text: string) => `${file}:${line}: Ignoring config line with trailing garbage: \`${text}'`,
  duplicateSrc: (file: string, line: number, name: string, url: string) => `${file}:${line}: Duplicate src declaration (${name} ${url}). Skipping.`,
  unrecognizedOption: (file: string, line: number, name: string, value: string) => `${file}:${line}: Unrecognized option: ${name}=${value}`,
  // Our own refusals of lines opkg would accept.
  badFeedName: (file: string, line: number, name: string) => `${file}:${line}: feed name "${name}" is not usable (1-64 of A-Z a-z 0-9 . _ -, not starting with ".")`,
  badFeedUrl: (file: string, line: number, url: string, why: string) => `${file}:${line}: feed URL "${url}" refused: ${why}`,
  badFeedPriority: (file: string, line: number, text: string) => `${file}:${line}: feed_priority wants "option feed_priority NAME N" with an integer N in -1000..1000: \`${text}'`,
  distNotSupported: (file: string, line: number, text: string) => `${file}:${line}: dist feeds (Release files) are not fetched; line ignored: \`${text}'`,
  priorityForUnknownFeed: (file: string, line: number, name: string) => `${file}:${line}: feed_priority for "${name}", which no src or src/gz line declares`,

  indexTooLarge: (what: string, max: number) => `${what}: larger than the ${max}-byte limit`,
  stanzaTooLarge: (line: number, max: number) => `Packages line ${line}: stanza larger than the ${max}-byte limit`,
  tooManyFields: (line: number, max: number) => `Packages line ${line}: stanza has more than ${max} fields`,
  tooManyPackages: (max: number) => `Packages: more than ${max} packages`,
  badFieldLine: (line: number) => `Packages line ${line}: neither "Field: value" nor a continuation line`,
  continuationFirst: (line: number) => `Packages line ${line}: continuation line before any field`,
  stanzaRejected: (line: number, why: string) => `Packages stanza at line ${line} refused: ${why}`,
  missingField: (field: string) => `no ${field} field`,
  badFieldValue: (field: string, value: string) => `bad ${field} "${value.length > 80 ? value.slice(0, 80) + '…' : value}"`,
  hostileFilename: (filename: string, why: string) => `Filename "${filename.length > 120 ? filename.slice(0, 120) + '…' : filename}" refused: ${why}`,
  badGzip: (what: string, why: string) => `${what}: not a valid gzip stream: ${why}`,

  badKeyFile: (file: string, why: string) => `usign public key ${file}: ${why}`,
  badSignatureFile: (what: string, why: string) => `usign signature ${what}: ${why}`,
  noKeyForSignature: (fingerprint: string, dir: string) => `no public key ${fingerprint} in ${dir}`,
  signatureMismatch: (fingerprint: string) => `Signature verification failed (key ${fingerprint})`,

  httpStatus: (url: string, status: number) => `${url}: HTTP ${status}`,
  fetchError: (url: string, why: string) => `${url}: ${why}`,
  timedOut: (url: string, ms: number) => `${url}: no complete answer within ${ms} ms`,
  stalled: (url: string, ms: number) => `${url}: no data for ${ms} ms`,
  refreshCancelled: (url: string) => `${url}: refresh cancelled`,
} as const;

/** Status of a catalog package beside the installed set (the front-ends' words). */
export const CatalogStatus = {
  NOT_INSTALLED: 'not installed',
  UPGRADABLE: 'upgradable',
  UP_TO_DATE: 'up to date',
} as const;
export type CatalogStatusValue = (typeof CatalogStatus)[keyof typeof CatalogStatus];

/** /catalog/list filters. */
export const CatalogFilters = ['all', 'available', 'upgradable', 'installed'] as const;
export type CatalogFilter = (typeof CatalogFilters)[number];
