// Error codes and texts of the protocol-neutral install engine (engine/); front-ends map them onto their own vocabularies.
// Kept apart from index.ts (the webOS bus and installer table) so that neither table changes meaning; no number here is used there.

/**
 * Engine error codes. Negative like the install service's own, in a range (-200 … -299) that no other table uses,
 * so a front-end may pass them through unchanged or map them (e.g. onto Thunder's 1001 … 1010).
 */
export const EngineErrorCode = {
  /** A request field is missing, of the wrong type, too long or malformed. */
  WRONG_PARAMS: -201,
  /** An operation or lock handle that the engine does not know. */
  WRONG_HANDLE: -202,
  /** A version string that dpkg would refuse (or, strictly, warn about). */
  BAD_VERSION: -203,
  /** A control `Depends:` field that cannot be parsed. */
  BAD_DEPENDS: -204,
  /** Dependencies of a package to install are not met. */
  DEPENDS_UNMET: -205,
  /** A package to remove is depended upon by installed packages. */
  HAS_DEPENDANTS: -206,
  /** The app is locked (by someone else's lock). */
  APP_LOCKED: -207,
  /** getLockInfo of an app that has no lock. */
  NOT_LOCKED: -208,
  /** A bounded table (locks, aux metadata entries) is full. */
  TOO_MANY: -209,
  /** Cancel refused: the operation has passed its commit point or has already ended. */
  CANCEL_REFUSED: -210,
  /** A storage path is not usable (not a directory, a symlink, outside its root). */
  BAD_PATH: -211,
  /** An operation state change that the state machine does not allow (a programming error of a front-end). */
  ILLEGAL_STATE: -212,
  /** The daemon stopped while the operation was queued or running; it was marked failed when the daemon came back. */
  INTERRUPTED: -213,
} as const;
export type EngineErrorCodeName = keyof typeof EngineErrorCode;

/** Engine error texts: fixed strings, or functions where the text names what it is about. */
export const EngineErrorText = {
  // dpkg version syntax: the first texts are dpkg's own words (lib/dpkg/parsehelp.c), so users can search them.
  VERSION_EMPTY: 'version string is empty',
  VERSION_EMBEDDED_SPACES: 'version string has embedded spaces',
  EPOCH_EMPTY: 'epoch in version is empty',
  EPOCH_NOT_NUMBER: 'epoch in version is not number',
  EPOCH_NEGATIVE: 'epoch in version is negative',
  EPOCH_TOO_BIG: 'epoch in version is too big',
  NOTHING_AFTER_COLON: 'nothing after colon in version number',
  REVISION_EMPTY: 'revision number is empty',
  UPSTREAM_EMPTY: 'version number is empty',
  UPSTREAM_NOT_DIGIT: 'version number does not start with digit',
  UPSTREAM_BAD_CHAR: 'invalid character in version number',
  REVISION_BAD_CHAR: 'invalid character in revision number',
  versionTooLong: (max: number) => `version string is longer than ${max} characters`,
  badVersion: (version: string, why: string) => `version '${version}' has bad syntax: ${why}`,
  badRelation: (op: string) => `unknown version relation '${op}' (use <<, <=, =, >=, >> or the obsolete <, >)`,

  // Depends:
  dependsTooLong: (max: number) => `Depends field is longer than ${max} characters`,
  dependsTooMany: (max: number) => `Depends field has more than ${max} packages`,
  dependsSyntax: (clause: string, why: string) => `bad Depends clause '${clause}': ${why}`,
  dependsUnmet: (missing: string[]) => `unmet dependencies: ${missing.join(', ')}`,
  hasDependants: (id: string, dependants: string[]) => `${id} is needed by installed ${dependants.length === 1 ? 'package' : 'packages'}: ${dependants.join(', ')}`,

  // operations
  noSuchOperation: (handle: string) => `no operation with handle ${handle}`,
  cancelFinished: (handle: string, state: string) => `operation ${handle} has already ended (${state}); nothing to cancel`,
  cancelCommitted: (handle: string) => `operation ${handle} is past its commit point and will complete; cancel refused`,
  illegalTransition: (handle: string, from: string, to: string) => `operation ${handle} cannot go from ${from} to ${to}`,
  INTERRUPTED: 'interrupted: the daemon stopped while this operation was running',
  INTERRUPTED_QUEUED: 'interrupted: the daemon stopped before this operation started',
  tooManyOperations: (max: number) => `too many operations queued or running (at most ${max})`,
  badWeights: (kind: string, why: string) => `phase weights of ${kind}: ${why}`,
  stateFileDamaged: (file: string, why: string) => `state file ${file} is damaged and was set aside: ${why}`,

  // locks
  appLocked: (id: string, reason: string, owner: string) => `app ${id} is locked by ${owner}: ${reason}`,
  notLocked: (id: string) => `app ${id} is not locked`,
  noSuchLock: (handle: string) => `no lock with handle ${handle}`,
  tooManyLocks: (max: number) => `too many locks (at most ${max})`,

  // aux metadata
  tooManyAux: (id: string, max: number) => `app ${id} already has ${max} aux metadata keys`,

  // storage
  notADirectory: (p: string) => `${p} is not a directory`,
  isSymlink: (p: string) => `${p} is a symbolic link; refusing to follow it`,
  walkTooLarge: (p: string, max: number) => `${p} has more than ${max} entries; usage not counted`,

  // shared field checks (WRONG_PARAMS)
  fieldMissing: (name: string) => `${name} is required`,
  fieldType: (name: string, type: string) => `${name} must be ${type}`,
  fieldTooLong: (name: string, max: number) => `${name} is longer than ${max} characters`,
  fieldBad: (name: string, why: string) => `${name} ${why}`,
} as const;
