// The single table of every statusValue, state string, error code and error text of the product.
// Code elsewhere refers to these by name; no number or text of the bus or installer is written twice.

/** Install and remove stages (statusValue → state string pushed in `details.state`). */
export const Stage = {
  UNKNOWN: { statusValue: 0, state: 'unknown' },
  // An http(s) ipkUrl's download (webOS's IpkDownloadRequested / IpkDownloadCurrent / IpkDownloadComplete / ErrorDownload).
  DOWNLOAD_REQUESTED: { statusValue: 7, state: 'ipk download : requested' },
  DOWNLOAD_CURRENT: { statusValue: 8, state: 'ipk download : current' },
  DOWNLOAD_COMPLETE: { statusValue: 10, state: 'ipk download : complete' },
  DOWNLOAD_FAILED: { statusValue: 23, state: 'ipk download failed' },
  INSTALL_NEEDED: { statusValue: 11, state: 'installing' },
  INSTALL_REQUESTED: { statusValue: 12, state: 'installing' },
  INSTALL_START: { statusValue: 13, state: 'installing : start' },
  INSTALL_UNPACKING: { statusValue: 14, state: 'installing : unpacking' },
  INSTALL_COMPLETE: { statusValue: 17, state: 'installing : complete' },
  REMOVE_IPK_NEEDED: { statusValue: 18, state: 'removing ipk' },
  REMOVE_IPK_REQUESTED: { statusValue: 19, state: 'removing ipk : requested' },
  REMOVE_IPK_COMPLETE: { statusValue: 21, state: 'removing ipk : complete' },
  INSTALL_CANCELLED: { statusValue: 22, state: 'install cancelled' },
  INSTALL_FAILED: { statusValue: 24, state: 'install failed' },
  REMOVE_FAILED: { statusValue: 25, state: 'remove failed' },
  ROLES_NEEDED: { statusValue: 27, state: 'installing role and service files' },
  ROLES_REQUESTED: { statusValue: 28, state: 'installing role and service files : requested' },
  ROLES_COMPLETE: { statusValue: 29, state: 'installing role and service files : complete' },
  INSTALLED: { statusValue: 30, state: 'installed' },
  REMOVED: { statusValue: 31, state: 'removed' },
  CLOSE_APP_NEEDED: { statusValue: 32, state: 'closing app' },
  CLOSE_APP_REQUESTED: { statusValue: 33, state: 'closing app : requested' },
  CLOSE_APP_COMPLETE: { statusValue: 34, state: 'closing app : complete' },
  PARSE_NEEDED: { statusValue: 35, state: 'ipk parsing' },
  PARSE_REQUESTED: { statusValue: 36, state: 'ipk parsing : requested' },
  PARSE_COMPLETE: { statusValue: 37, state: 'ipk parsing : complete' },
  REMOVE_SERVICES_NEEDED: { statusValue: 38, state: 'removing service files' },
  REMOVE_SERVICES_REQUESTED: { statusValue: 39, state: 'removing service files : requested' },
  REMOVE_SERVICES_COMPLETE: { statusValue: 40, state: 'removing service files : complete' },
  REMOVE_START: { statusValue: 41, state: 'remove start' },
  REMOVING: { statusValue: 42, state: 'removing' },
  REMOVE_DATA_NEEDED: { statusValue: 43, state: 'removing data' },
  REMOVE_DATA: { statusValue: 44, state: 'removing data : in progress' },
  REMOVE_DATA_COMPLETE: { statusValue: 45, state: 'removing data : complete' },
  UPDATE_CHECK_NEEDED: { statusValue: 262, state: 'checking for update' },
  UPDATE_CHECK_REQUESTED: { statusValue: 263, state: 'checking for update : requested' },
  UPDATE_CHECK_COMPLETE: { statusValue: 264, state: 'checking for update : complete' },
  VERIFY_NEEDED: { statusValue: 268, state: 'verifying' },
  VERIFY_REQUESTED: { statusValue: 269, state: 'verifying : requested' },
  VERIFY_COMPLETE: { statusValue: 270, state: 'verifying : complete' },
} as const;
export type StageName = keyof typeof Stage;

/** Error codes of the install service (docs/appinstall.md). */
export const ErrorCode = {
  GENERAL: -1,
  INVALID_PARAMETER: -2,
  NO_SPACE: -3,
  INSTALL_FAILED: -5,
  REMOVE_FAILED: -7,
  PRIVILEGED_INSTALL_IN_DEVMODE: -15,
  PRIVILEGED_REMOVE_IN_DEVMODE: -19,
  /** The task was cancelled by /operations/cancel before its commit point (install: statusValue 22; remove: 25). */
  CANCELLED: -20,
} as const;

/** Error and reason texts of the install service. Keep them verbatim: ares-cli matches some. */
export const ErrorText = {
  ID_EMPTY: 'id is empty',
  IPKURL_EMPTY: 'ipkUrl is empty',
  INVALID_IPKURL: 'invalid ipkUrl',
  NO_SUCH_ID: 'No such id',
  DUPLICATE_COMMAND: 'duplicate command while current command has not completed, ignoring',
  EXTRACT_IPK_GENERAL: 'failed to extract ipk file',
  INSTALL_SERVICE_GENERAL: 'failed to install service',
  NO_SPACE: 'There is no available space to install App',
  EXTRACT_FAILED: 'Failed to extract package',
  PARSE_CONTROL_FAILED: 'Failed to parse control',
  APPID_WRONG: 'appId is wrong',
  FAILED_VERIFY: 'FAILED_VERIFY',
  FAILED_PACKAGEFILE_CORRUPT: 'FAILED_PACKAGEFILE_CORRUPT',
  FAILED_IPKG_INSTALL: 'FAILED_IPKG_INSTALL',
  FAILED_REMOVE: 'FAILED_REMOVE',
  DOWNGRADE_REFUSED: 'downgrade is not allowed; pass "allowDowngrade": true to force it',
  /** The app is locked by com.webos.applicationManager/lockApp; install and remove of it are refused. */
  APP_LOCKED: 'app is locked by com.webos.applicationManager',
  /** Another task (other request id) is installing or removing the same package. */
  PACKAGE_BUSY: 'another install or remove of this package is in progress',
  /** The package is already installed in the other app root (verified vs developer). */
  INSTALLED_ELSEWHERE: 'package is already installed in the other app root; remove it there first',
  /** A package id, app id, service id or service name of the package is another package's or the system's. */
  NAME_TAKEN: 'an id the package declares belongs to another package or to the system',
  /** A package's database record (var/lib/opkg/info/<pkg>.control / .list) cannot be trusted; a reinstall or remove repairs it. */
  DAMAGED_RECORD: 'the package record is damaged; reinstall or remove the package to repair it',
  /** /install with requireSignature: package unsigned or signed by an untrusted certificate. */
  SIGNATURE_REQUIRED: 'a trusted signature is required',
  /** The daemon config file <root>/etc/palm/appinstalld.json is unreadable or wrong. */
  BAD_DAEMON_CONFIG: 'bad daemon config',
  /** A non-root caller already has the configured maximum of install/remove tasks queued or running (appinstalld.json maxQueuedTasksPerCaller). */
  TOO_MANY_TASKS: 'too many install or remove requests of this caller are queued; wait for them to finish',
  /** An install/remove request whose payload nests deeper than the service takes (request-validation.ts). */
  REQUEST_TOO_DEEP: 'request payload is nested too deeply',
  /** setDevMode: something other than a file (a non-empty directory, a FIFO) stands at the developer mode flag path. */
  DEVMODE_FLAG_BAD: 'the developer mode flag path is not a file; remove what stands there',
  /** A second daemon started on a root whose daemon is running (services/instance-lock.ts); it changes nothing and exits. */
  DAEMON_RUNNING: 'an appinstalld daemon is already running on this root',
  PRIVILEGED_INSTALL_IN_DEVMODE: 'Cannnot install privileged app on developer mode',
  PRIVILEGED_REMOVE_IN_DEVMODE: 'Cannnot remove privileged app on developer mode',
  /** Reasons of a task stopped by /operations/cancel (its undo run, the old state kept). */
  INSTALL_CANCELLED: 'install cancelled',
  REMOVE_CANCELLED: 'remove cancelled',
  /** A firmware package (control Section: firmware) sent to /dev/install: a developer never installs firmware. */
  FIRMWARE_IN_DEVMODE: 'Cannot install a firmware package on developer mode; firmware is installed by root through /install',
  /** A firmware package sent to /install by a caller that is not root (uid 0). */
  FIRMWARE_ROOT_ONLY: 'only root may install or remove firmware packages',
  /** A firmware package whose data tree has no lib/firmware/<Package>/ folder. */
  FIRMWARE_EMPTY: 'a firmware package must carry lib/firmware/<its Package name>/',
  /** An app package and a firmware package cannot share a name (/remove would not know which one is meant). */
  FIRMWARE_NAME_TAKEN: 'an app package and a firmware package cannot have the same name',
  /** The firmware was installed (it stays), but the configured firmwareHandoff command failed or timed out. */
  FIRMWARE_HANDOFF_FAILED: 'firmware installed, but its hand-off command failed',
  /** An install submitted to the engine (engine/task-queue.ts) without a package file or URL. */
  NO_PACKAGE_SOURCE: 'an install needs a package: a file path or a URL',
  /** An install from a URL submitted to an engine that has no downloader. */
  NO_DOWNLOADER: 'this engine cannot download packages; give a file path',
  /** /lock, /metadata/*, /storage/* of an id that no installed package has. */
  NOT_INSTALLED: 'app is not installed',
  /** /storage/reset of a firmware package's id: firmware has no persistent data directory (nothing is changed). */
  FIRMWARE_NO_DATA: 'a firmware package has no persistent data to reset',
} as const;

/** Bus-level errors (docs/bus.md, docs/acg.md): texts are luna-service2's, built by these functions only. */
export const BusErrorCode = {
  GENERAL: -1,
  INVALID_PERMISSIONS: -1027,
  NAME_TAKEN: -1028,
  NOT_PRIVILEGED_APP_CALL: -1031,
} as const;

export const BusErrorText = {
  serviceDoesNotExist: (service: string) => `Service does not exist: ${service}.`,
  serviceNotRunning: (service: string) => `${service} is not running.`,
  unknownMethod: (method: string, category: string) => `Unknown method "${method}" for category "${category}"`,
  deniedMethodCall: (method: string, category: string) => `Denied method call "${method}" for category "${category}"`,
  notPermittedToSend: (service: string) => `Not permitted to send to ${service}.`,
  invalidPermissions: (name: string) => `Invalid permissions for ${name}`,
  nameTaken: (name: string) => `Attempted to register for a service name that already exists: ${name}`,
  notPrivilegedAppCall: (appId: string) => `LSCallFromApplication with application ID ${appId} but not privileged`,
  emptyPayload: 'Empty payload is not valid JSON. Use {}',
  malformedJson: (detail: string) => `Malformed JSON payload: ${detail}`,
  payloadNotObject: 'Payload must be a JSON object',
  invalidUri: (uri: string, why: string) => `Invalid URI "${uri}": ${why}`,
  /** addOneManifest / removeOneManifest refused: the manifest or a file it lists cannot be used. */
  invalidManifest: (path: string, why: string) => `Invalid manifest ${path}: ${why}`,
  /** Client side (ipc/client.ts): the hub socket could not be reached; names the socket path. */
  cannotConnect: (socketPath: string, why: string) => `Cannot connect to the bus hub at ${socketPath}: ${why}`,
  /** Client side: the hub connection ended while in use. */
  hubGone: (socketPath: string) => `Lost the connection to the bus hub at ${socketPath}`,
  /** Client side: a call still open when the client closed its own connection. */
  clientClosed: 'The bus connection was closed by this client',
  /** Client side: a call frame larger than the frame limit is refused before it is sent. */
  frameTooLarge: (bytes: number, max: number) => `Message of ${bytes} bytes is larger than the ${max}-byte frame limit`,
  replyNotSerialisable: (why: string) => `Reply could not be serialised: ${why}`,
  /** Method registry: a payload failing its method's schema (code ErrorCode.INVALID_PARAMETER); detail names the key. */
  invalidParameter: (detail: string) => `Invalid parameter: ${detail}`,
  /** Hub: a caller already has the configured maximum of calls open on its connection. */
  tooManyCalls: (limit: number) => `Too many outstanding calls on this connection (limit ${limit})`,
  /** Hub: refused at connect because the configured maximum of connections is reached. */
  tooManyConnections: (limit: number) => `Too many connections to the hub (limit ${limit})`,
  /** Hub: refused at connect because this (non-root) uid already holds its quota of connections. */
  tooManyConnectionsForUid: (uid: number, limit: number) => `Too many connections to the hub from uid ${uid} (limit ${limit})`,
  /** Hub: a (non-root) uid already has its quota of calls open over all its connections. */
  tooManyCallsForUid: (uid: number, limit: number) => `Too many outstanding calls from uid ${uid} (limit ${limit})`,
  /** Hub: a (non-root) uid already has its quota of subscriptions open over all its connections. */
  tooManySubscriptionsForUid: (uid: number, limit: number) => `Too many subscriptions from uid ${uid} (limit ${limit})`,
  /** Hub: hello with a name that is not a valid service name (code INVALID_PERMISSIONS). */
  invalidServiceName: (name: string, why: string) => `Invalid service name "${name}": ${why}`,
} as const;

/** Why the hub closed a connection or dropped a frame (its log lines; the peer sees the connection end). */
export const HubCloseReason = {
  helloTimeout: (ms: number) => `no "hello" within ${ms} ms`,
  uidQueueFull: (uid: number, bytes: number, limit: number) =>
    `uid ${uid} makes the hub hold ${bytes} bytes over its connections (limit ${limit}: messages it does not read, frames it does not finish); this connection holds the most`,
  hubQueueFull: (bytes: number, limit: number) =>
    `the hub holds ${bytes} bytes for its peers (limit ${limit}: messages they do not read, frames they do not finish); this connection holds the most`,
  methodTablesFull: (uid: number, limit: number) =>
    `the method tables of uid ${uid} would hold more than ${limit} characters of names`,
  /** Logged once per connection: later refused signals of the same connection are dropped silently. */
  signalRefused: (uri: string) =>
    `signal ${uri} dropped: only the service it names, root, or a sender the ACG lets publish it may send it (further refused signals of this connection are not logged)`,
} as const;

/** Texts of luna-send and luna-send-pub that users and scripts know verbatim (docs/luna-send.md). */
export const LunaSendText = {
  /** Printed when neither -i, -n, -s nor -t is given (also by luna-send-pub, word for word). */
  MISSING_MODE_WARNING: 'WARNING: you must always call luna-send with "-i" or "-n". Exiting with failure return code.',
} as const;

/** A product error: a code and a text, thrown where it arises and turned into a reply in one place. */
export class CodedError extends Error {
  /** `cause`: the lower-level error this one wraps (e.g. the errno error of a failed write), kept so callers can test its code. */
  constructor(public readonly code: number, public readonly text: string, public readonly detail?: string, options?: { cause?: unknown }) {
    super(detail ? `${text}: ${detail}` : text, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'CodedError';
  }
}

/** The error reply of a method call, as the bus and the install service send it. */
export function errorReply(code: number, text: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { returnValue: false, errorCode: code, errorText: text, ...extra };
}

/** com.webos.applicationManager errors (services/appmanager). */
export const AppManagerErrorCode = {
  APP_NOT_FOUND: -101,
  APP_LOCKED: -102,
  /** A developer-mode caller asked about an app it did not install in developer mode. */
  NOT_DEVELOPER_APP: -103,
  /** A developer-mode caller asked to launch while developer mode is off. */
  DEVMODE_OFF: -104,
} as const;
export const AppManagerErrorText = {
  APP_NOT_FOUND: 'app is not installed',
  APP_LOCKED: 'app is locked',
  notDeveloperApp: (id: string) =>
    `${id} is not installed in developer mode: a developer may launch, list and close only the apps installed in developer mode`,
  DEVMODE_OFF: 'Developer mode is off: a developer may launch apps only while it is on',
} as const;

/** com.webos.service.systemservice and com.webos.service.tv.systemproperty (device facts for ares-device). */
export const SystemInfoErrorCode = {
  /** A parameter or key the service does not know at all (not merely without a value on this device). */
  UNKNOWN_KEY: -2,
} as const;
export const SystemInfoText = {
  /** The value of a known key this device has no true value for (ares-cli prints "(unknown)" for a missing one too). */
  UNKNOWN_VALUE: '(unknown)',
  unknownKey: (key: string, known: readonly string[]) => `Unknown key "${key}" (known: ${known.join(', ')})`,
} as const;

/**
 * Downloader errors (download/): product codes, each mapped by download/tickets.ts to the completionStatusCode
 * luna-downloadmgr's clients know (DownloadCompletionStatus).
 */
export const DownloadErrorCode = {
  INVALID_URL: -401,
  INVALID_FILENAME: -402,
  HTTP_ERROR: -403,
  NETWORK: -404,
  STALLED: -405,
  CHECKSUM_MISMATCH: -406,
  SIZE_MISMATCH: -407,
  NO_SPACE: -408,
  TOO_MANY_REDIRECTS: -409,
  BAD_RANGE_REPLY: -410,
  CANCELLED: -411,
  FILESYSTEM: -412,
  TOO_LARGE: -413,
  INVALID_CHECKSUM: -414,
  NOT_DOWNLOADING: -415,
  BUSY: -416,
  QUEUE_FULL: -417,
  /** The daemon stopped (crash, kill, power cut) while the download was queued, running or paused. */
  INTERRUPTED: -418,
} as const;
export type DownloadErrorCodeValue = (typeof DownloadErrorCode)[keyof typeof DownloadErrorCode];

const MiB = (n: number) => (n / 1048576).toFixed(1);

export const DownloadErrorText = {
  invalidUrl: (why: string) => `invalid download URL: ${why}`,
  invalidFilename: (why: string) => `invalid download file name: ${why}`,
  httpStatus: (status: number, statusText: string) => `HTTP ${status}${statusText ? ` ${statusText}` : ''}`,
  failedAfter: (attempts: number, last: string) => `download failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${last}`,
  network: (why: string) => `network error: ${why}`,
  /** A URL with a user name or password in it (refused as fetch refuses it, never turned into an Authorization header). */
  credentialsInUrl: 'Request cannot be constructed from a URL that includes credentials',
  stalled: (seconds: number) => `no data received for ${seconds} s`,
  checksumMismatch: (algo: string, expected: string, got: string) => `checksum mismatch: expected ${algo} ${expected}, got ${got}`,
  sizeMismatch: (expected: number, got: number) => `size mismatch: expected ${expected} bytes, got ${got}`,
  contentLengthMismatch: (expected: number, announced: number) => `size mismatch: expected ${expected} bytes, the server announces ${announced}`,
  moreThanSize: (expected: number) => `the server sent more than the expected ${expected} bytes; download refused`,
  invalidSize: (value: string) => `invalid expected size ${value.slice(0, 40)} (not a whole number of bytes)`,
  tooLarge: (limit: number) => `the download is larger than the ${limit}-byte limit`,
  noSpace: (need: number, available: number) => `not enough free space: need ${MiB(need)} MiB, ${MiB(available)} MiB available`,
  tooManyRedirects: (limit: number) => `more than ${limit} redirects`,
  badRedirect: (location: string) => `redirect to a location that is not http or https: ${location.slice(0, 200)}`,
  badContentRange: (detail: string) => `bad 206 reply to a range request: ${detail}`,
  rangeNotSatisfiable: 'the server refused the range (416) and the partial file is not complete',
  cancelled: 'download cancelled',
  filesystem: (why: string) => `file system error: ${why}`,
  invalidChecksum: (algo: string) => `invalid expected ${algo} checksum (not hexadecimal of the right length)`,
  queueFull: (limit: number) => `too many downloads waiting (limit ${limit})`,
  busy: (filename: string) => `a download to ${filename} is already in progress`,
  /** pause/resume/cancel of an id the downloader does not hold in that state. */
  notDownloading: 'Ticket provided does not correspond to a downloading transfer',
  interrupted: 'interrupted: the daemon stopped before the download ended',
} as const;

/** luna-downloadmgr's completionStatusCode values (DownloadManager.h), sent in a download's final event. */
export const DownloadCompletionStatus = {
  SUCCESS: 0,
  GENERAL: -1,
  CONNECT_TIMEOUT: -2,
  FILE_CORRUPT: -3,
  FILESYSTEM: -4,
  HTTP_ERROR: -5,
  WRITE_ERROR: -6,
  INTERRUPTED: 11,
  CANCELLED: 12,
} as const;
