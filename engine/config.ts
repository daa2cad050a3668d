// What the engine reads of the daemon's configuration (services/appinstall/daemon-config.ts reads and checks the file,
// whose settings are a superset of these). Types only.
import type { ExtractLimits } from '../ipk/entry-rules';

export interface EngineConfig {
  /** Refuse unsigned or untrusted packages outside developer mode (an invalid signature is always refused). */
  requireSignature: boolean;
  /** Most install/remove tasks running at once; more wait in a queue. */
  maxConcurrentTasks: number;
  /** Most install/remove tasks one non-root uid may have queued or running at once; more are refused. */
  maxQueuedTasksPerCaller: number;
  /** Limits on an unpacked package (hostile-input rules): depth, entry count, total bytes, compression ratio. */
  extractLimits: ExtractLimits;
  /** How many finished operations (with their logs) are kept across restarts, 1 … 10000. */
  operationHistory: number;
  /** Quotas in KiB reported by storage details (null: none): `apps` (the installed package), `persistent` (its data). */
  storageQuotas: { apps: number | null; persistent: number | null };
  /** Run after a firmware package is installed (firmware-steps.ts): argv (no shell), the firmware folder appended; null: none. */
  firmwareHandoff: string[] | null;
  /** Longest the hand-off may run, seconds (then it is killed and the install reports the failure). */
  firmwareHandoffTimeoutSec: number;
}
