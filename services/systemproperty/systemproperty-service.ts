// com.webos.service.tv.systemproperty, the part ares-device --system-info asks (tv profile): getSystemInfo {"keys"}
// answers each asked key with a true fact of this machine (services/systemservice/os-facts.ts) or "(unknown)".
import type { LunaClient } from '../../ipc/client';
import type { Payload } from '../../ipc/protocol';
import { readOsFacts, type OsFacts } from '../systemservice/os-facts';
import { answerKeys } from '../systemservice/systemservice-service';

export const SYSTEMPROPERTY_SERVICE = 'com.webos.service.tv.systemproperty';

/**
 * The TV's system properties, where this machine has them: its hardware model and board (DMI or device tree) and
 * its OS release as the firmware. sdkVersion (webOS TV SDK) and otaId (LG's update channel) have no true value off a TV.
 */
export const SYSTEM_INFO: Record<string, (f: OsFacts) => unknown> = {
  modelName: (f) => f.model,
  firmwareVersion: (f) => f.osRelease.PRETTY_NAME ?? f.osRelease.VERSION_ID,
  boardType: (f) => f.board,
  sdkVersion: () => undefined,
  otaId: () => undefined,
};

export class SystemPropertyService {
  constructor(private readonly client: LunaClient, private readonly facts: () => OsFacts = readOsFacts) {}

  open(): void {
    this.client.registerCategory('/', {
      getSystemInfo: {
        schema: { type: 'object', properties: { keys: { type: 'array', items: { type: 'string' } } } },
        groups: ['systemproperty.query', 'arescli.interface'],
        handler: (msg): Payload => answerKeys(SYSTEM_INFO, msg.payload.keys, this.facts()),
      },
    });
  }
}
