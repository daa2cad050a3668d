// Codes and texts of the distribution layer on the bus: install from a URL, com.webos.service.downloadmanager, and
// the /feeds and /catalog methods of com.webos.appInstallService. Beside index.ts so the work merges without churn.

/** Error codes of the download manager's own refusals (the downloader's are DownloadErrorCode in index.ts). */
export const DownloadManagerErrorCode = {
  INVALID_PARAMETER: -1,
  TARGET_OUTSIDE: -2,
  TOO_MANY_DOWNLOADS: -3,
  NO_SUCH_TICKET: -4,
  /** deleteDownloadedFile of a download that has not ended. */
  STILL_DOWNLOADING: -5,
  /** deleteDownloadedFile of a download that ended without a file (failed, cancelled, interrupted). */
  NOT_COMPLETED: -6,
  /** deleteDownloadedFile: the file is gone (deleted before, or by someone else). */
  FILE_GONE: -7,
  /** deleteDownloadedFile: what is at the path is not the file that download completed. */
  NOT_THE_DOWNLOADED_FILE: -8,
} as const;

export const DownloadManagerText = {
  targetOutside: (dir: string, allowed: string) => `targetDir ${dir.slice(0, 200)} is not a download directory (allowed: ${allowed})`,
  badTarget: 'target must be an http:// or https:// URL',
  tooManyDownloads: (limit: number) => `too many downloads of this caller are pending (limit ${limit})`,
  noSuchTicket: (ticket: unknown) => `no download with ticket ${String(ticket).slice(0, 40)}`,
  badTicket: (ticket: unknown) => `ticket must be a positive whole number (got ${JSON.stringify(ticket)?.slice(0, 40)})`,
  stillDownloading: (ticket: number) => `download ${ticket} has not ended; its file cannot be deleted while it is downloading`,
  notCompleted: (ticket: number, state: string) => `download ${ticket} ended ${state}, not completed: it has no downloaded file to delete`,
  alreadyDeleted: (ticket: number) => `the file of download ${ticket} was already deleted`,
  fileGone: (ticket: number, file: string) => `the file of download ${ticket} is no longer there: ${file}`,
  notTheDownloadedFile: (ticket: number, why: string) => `not deleted: ${why}; it is not the file download ${ticket} completed`,
  stateNotSaved: (why: string) => `could not record the download on disk: ${why.slice(0, 300)}`,
} as const;

/** Install from an http(s) ipkUrl and install by name from the catalog (codes are the install service's, docs/appinstall.md). */
/** Lines of a download in an operation log (engine/download-steps.ts downloadLogger): URL, resumes, progress, end. */
export const DownloadLogText = {
  start: (url: string, file: string, total?: number) => `download ${url.slice(0, 512)} -> ${file}${total ? ` (${total} bytes)` : ''}`,
  resumedFrom: (bytes: number) => `resuming: ${bytes} bytes already in the partial file`,
  attempt: (n: number, at: number) => `attempt ${n}: resuming at byte ${at}`,
  restarted: (n: number) => `restart ${n} from byte 0 (the server ignored Range or the file changed)`,
  progress: (bytes: number, total: number, speed: number) => `${bytes} of ${total} bytes (${Math.round(speed)} B/s)`,
  done: (bytes: number, fetched: number, check: 'sha256' | 'md5' | null, size: boolean) =>
    `downloaded ${bytes} bytes (${fetched} fetched from the network)${size ? '; size verified' : ''}${check ? `; ${check} checksum verified` : '; no checksum to verify'}`,
  failed: (why: string) => `download failed: ${why.slice(0, 512)}`,
} as const;

export const UrlInstallText = {
  rootOnly: 'install from an http(s) URL is for root callers only',
  downloadFailed: (why: string) => `download failed: ${why}`,
} as const;

export const CatalogErrorCode = {
  INVALID_PARAMETER: -2,
  NOT_IN_CATALOG: -2,
  UNRESOLVABLE: -5,
  BUSY: -5,
} as const;

export const CatalogText = {
  refreshCancelled: 'feeds refresh cancelled; feeds not refreshed keep their previous index',
  downloadCancelled: 'download cancelled',
  notInCatalog: (name: string) => `${name.slice(0, 200)} is not in the catalog (refresh the feeds, or check the name)`,
  noSuchVersion: (name: string, version: string) => `${name.slice(0, 200)} has no candidate of version ${version.slice(0, 100)}`,
  unresolvable: (name: string, clause: string) => `cannot satisfy "${clause.slice(0, 200)}" of ${name.slice(0, 200)} from the catalog or the installed packages`,
  badDepends: (name: string, why: string) => `${name.slice(0, 200)}: Depends not readable: ${why}`,
  tooManyDependencies: (limit: number) => `more than ${limit} packages to install in one request`,
  tooManyOperations: (limit: number) => `too many feed or catalog operations of this caller are running (limit ${limit})`,
  dependencyFailed: (name: string) => `dependency ${name} failed to install`,
  /** A catalog install's chain as one operation: its log's line for each package, its end in words. */
  chainPart: (name: string, n: number, of: number, target: string) =>
    `catalog install of ${target}: package ${n} of ${of} (${name}, ${n === of ? 'the target, after its dependencies' : 'a dependency'})`,
  chainFailed: (name: string, n: number, of: number, why: string) => `package ${n} of ${of} (${name}) failed: ${why}`,
  chainCancelled: (kept: readonly string[]) =>
    kept.length ? `catalog install cancelled; already installed before the cancel and kept (past their commit point, nothing half-installed): ${kept.join(', ')}` : 'catalog install cancelled; none of its packages was installed',
  chainEmpty: 'no package of the chain was installed',
  chainDone: (target: string, n: number) => `catalog install of ${target}: ${n} package(s) installed`,
  badQuery: (why: string) => `bad query: ${why}`,
} as const;

/** Catalog-level package states besides the feed ones (docs/appinstall.md): downloads and installs this daemon runs. */
export const CatalogActivity = {
  DOWNLOAD_RUNNING: 'download running',
  DOWNLOAD_DONE: 'download done',
  DOWNLOAD_FAILED: 'download failed',
  INSTALL_RUNNING: 'install running',
  INSTALL_FAILED: 'install failed',
} as const;
