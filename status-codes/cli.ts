// Exit codes and texts the command-line programs share (cli-common/, appinstall-cli/, luna-send/, ipk/, ipc/ls-hubd.ts,
// services/daemon-cli.ts). Beside status-codes/index.ts so the CLI work merges without touching the shared table.

/** Exit codes of every CLI of the package. luna-send keeps 1 for a usage error (docs/luna-send.md, matched by test/luna-send.test.ts). */
export const ExitCode = {
  OK: 0,
  /** The operation failed (install failed, remove failed, the daemon answered an error). */
  FAILURE: 1,
  /** Bad command line: unknown option, missing argument. */
  USAGE: 2,
  /** The bus hub cannot be reached (no socket, refused, lost). */
  NO_BUS: 3,
  /** The bus or the service refused the caller (permissions). */
  DENIED: 4,
  /** Stopped by SIGINT/SIGTERM (128 + 2, as shells report it). */
  INTERRUPTED: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** Texts of argument errors and of the appinstall CLI. */
export const CliText = {
  unknownOption: (raw: string) => `unknown option ${raw}`,
  needsValue: (raw: string) => `option ${raw} needs a value`,
  takesNoValue: (raw: string) => `option ${raw} takes no value`,
  unexpectedArgument: (arg: string) => `unexpected argument "${arg}"`,
  missingArgument: (what: string) => `missing ${what}`,
  emptyArgument: (what: string) => `${what} is empty`,
  unknownCommand: (cmd: string) => `unknown command "${cmd}"`,
  noCommand: 'no command given',
  tryHelp: (prog: string) => `Try '${prog} --help' for more information.`,
  notInteger: (raw: string, text: string, min: number) => `option ${raw} needs a whole number of at least ${min}, got "${text}"`,
  /** The daemon on the bus does not have the method (an older appinstalld, or a service that is not running). */
  notOffered: (what: string, busText: string) => `this daemon does not offer ${what} (${busText})`,
  cannotReachBus: (why: string) => `cannot reach the bus: ${why}`,
  denied: (what: string, busText: string) => `not allowed to ${what}: ${busText}`,
  failed: (what: string, text: string) => `${what} failed: ${text}`,
  installFailed: (id: string, reason: string) => `install of ${id} failed: ${reason}`,
  removeFailed: (id: string, reason: string) => `remove of ${id} failed: ${reason}`,
  cancelled: (id: string) => `install of ${id} was cancelled`,
  /** The one bar of a catalog install: which package of the chain is at work, and its phase. */
  chainPhase: (n: number, of: number, id: string, phase: string) => `${n}/${of} ${id}: ${phase}`,
  chainCancelled: (id: string, why: string) => `install of ${id} was cancelled: ${why}`,
  installed: (id: string) => `${id} installed`,
  removed: (id: string) => `${id} removed`,
  operationFailed: (handle: string, state: string, text: string) => `operation ${handle} ended ${state}: ${text}`,
  operationCancelled: (handle: string) => `operation ${handle} was cancelled`,
  unreadablePackage: (file: string, why: string) => `cannot read ${file}: ${why}`,
  notFound: (name: string) => `${name} is neither installed nor in any feed`,
  nothingToUpgrade: 'nothing to upgrade',
  connectionLost: 'the bus connection was lost before the operation ended',
  upgradeNeedsNames: 'upgrade needs package names or --all',
  feedsRefreshed: 'feeds refreshed',
  refreshStarted: (handle: string) => `feeds refresh started (operation ${handle}; this daemon cannot report its end)`,
  interrupted: 'interrupted; an operation the daemon had started goes on (see appinstall tasks)',
} as const;
