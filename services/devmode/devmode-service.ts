// com.webos.service.devmode: setDevMode / getDevMode, persisted as the flag file <root>/var/luna/preferences/devmode_enabled
// (exists = on). The current value is an Observable the install service follows; nothing here knows about installs.
import fs from 'node:fs';
import { BehaviorSubject, type Observable } from 'rxjs';
import type { LunaClient } from '../../ipc/client';
import { writeFileDurable, unlinkDurable } from '../../engine/durable-fs';
import { CodedError, ErrorCode, ErrorText } from '../../status-codes';

export const DEVMODE_SERVICE = 'com.webos.service.devmode';

/** What is at the flag path: on (a regular file), off (nothing), or something else (a directory, a symlink, a FIFO):
 *  then developer mode is off, and `problem` says what stands there. */
export function inspectDevModeFlag(flagFile: string): { enabled: boolean; problem?: string } {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(flagFile);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { enabled: false };
    return { enabled: false, problem: `developer mode flag ${flagFile} cannot be read (${code ?? (e as Error).message})` };
  }
  if (st.isFile()) return { enabled: true };
  const what = st.isDirectory() ? 'a directory' : st.isSymbolicLink() ? 'a symbolic link' : 'not a regular file';
  return { enabled: false, problem: `developer mode flag ${flagFile} is ${what}, not a file` };
}

export function readDevModeFlag(flagFile: string): boolean {
  return inspectDevModeFlag(flagFile).enabled;
}

export class DevModeService {
  private readonly state: BehaviorSubject<boolean>;
  readonly enabled$: Observable<boolean>;

  constructor(private readonly client: LunaClient, private readonly flagFile: string, private readonly log: (l: string) => void) {
    const flag = inspectDevModeFlag(flagFile);
    if (flag.problem) log(`${flag.problem}: developer mode is off; setDevMode replaces it if it is an empty directory`);
    this.state = new BehaviorSubject(flag.enabled);
    this.enabled$ = this.state.asObservable();
  }

  get enabled(): boolean {
    return this.state.value;
  }

  /** Persists the flag (durably) before anyone is told. */
  async set(enabled: boolean): Promise<void> {
    const flag = inspectDevModeFlag(this.flagFile);
    if (flag.problem) {
      // Something else stands at the flag path: an empty directory is taken away (nothing is lost), anything else is
      // left for the administrator with a clear error instead of EISDIR from a rename.
      let cleared = false;
      try {
        const st = fs.lstatSync(this.flagFile);
        if (st.isDirectory()) {
          fs.rmdirSync(this.flagFile);
          cleared = true;
        } else if (st.isSymbolicLink()) {
          fs.unlinkSync(this.flagFile);
          cleared = true;
        }
      } catch {
        /* not empty, or gone: judged below */
      }
      if (!cleared && inspectDevModeFlag(this.flagFile).problem) throw new CodedError(ErrorCode.GENERAL, ErrorText.DEVMODE_FLAG_BAD, flag.problem);
      this.log(`${flag.problem}: removed`);
    }
    if (enabled) await writeFileDurable(this.flagFile, '');
    else await unlinkDurable(this.flagFile);
    if (enabled !== this.state.value) this.log(`developer mode ${enabled ? 'enabled' : 'disabled'}`);
    this.state.next(enabled);
  }

  open(): void {
    this.client.registerCategory('/', {
      setDevMode: {
        schema: { type: 'object', required: ['enabled'], properties: { enabled: { type: 'boolean' } } },
        groups: ['devmode.management'],
        handler: async (msg) => {
          await this.set(msg.payload.enabled === true);
          return { returnValue: true, enabled: this.enabled };
        },
      },
      getDevMode: {
        schema: { type: 'object' },
        groups: ['devmode.query', 'public'],
        handler: () => ({ returnValue: true, enabled: this.enabled }),
      },
    });
  }
}
