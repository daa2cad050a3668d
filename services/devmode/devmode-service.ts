// com.webos.service.devmode: setDevMode / getDevMode, persisted as the flag file <root>/var/luna/preferences/devmode_enabled
// (exists = on). The current value is an Observable the install service follows; nothing here knows about installs.
import fs from 'node:fs';
import { BehaviorSubject, type Observable } from 'rxjs';
import type { LunaClient } from '../../ipc/client';
import { writeFileDurable, unlinkDurable } from '../appinstall/durable-fs';

export const DEVMODE_SERVICE = 'com.webos.service.devmode';

export function readDevModeFlag(flagFile: string): boolean {
  return fs.existsSync(flagFile);
}

export class DevModeService {
  private readonly state: BehaviorSubject<boolean>;
  readonly enabled$: Observable<boolean>;

  constructor(private readonly client: LunaClient, private readonly flagFile: string, private readonly log: (l: string) => void) {
    this.state = new BehaviorSubject(readDevModeFlag(flagFile));
    this.enabled$ = this.state.asObservable();
  }

  get enabled(): boolean {
    return this.state.value;
  }

  /** Persists the flag (durably) before anyone is told. */
  async set(enabled: boolean): Promise<void> {
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
