// com.webos.service.systemservice, the part ares-device --system-info asks (ose profile): osInfo/query,
// deviceInfo/query, softwareInfo/query, each answering the asked parameters with true facts from os-facts.ts.
import type { LunaClient } from '../../ipc/client';
import type { Payload } from '../../ipc/protocol';
import { CodedError, SystemInfoErrorCode, SystemInfoText } from '../../status-codes';
import { readOsFacts, type OsFacts } from './os-facts';

export const SYSTEMSERVICE_SERVICE = 'com.webos.service.systemservice';

type Source = (f: OsFacts) => unknown;

/**
 * osInfo: webOS reports its image's release facts; here they are the running OS's own (os-release, uname). Keys with
 * no counterpart on this OS (webos_manufacturing_version, ...) are answered SystemInfoText.UNKNOWN_VALUE.
 */
export const OS_INFO: Record<string, Source> = {
  webos_name: (f) => f.osRelease.NAME,
  webos_release: (f) => f.osRelease.VERSION_ID,
  webos_release_codename: (f) => f.osRelease.VERSION_CODENAME,
  webos_build_id: (f) => f.osRelease.BUILD_ID,
  webos_imagename: (f) => f.osRelease.IMAGE_ID,
  webos_api_version: () => undefined,
  webos_build_datetime: () => undefined,
  webos_manufacturing_version: () => undefined,
  webos_prerelease: () => undefined,
  core_os_name: (f) => f.osRelease.NAME,
  core_os_release: (f) => f.osRelease.VERSION_ID,
  core_os_release_codename: (f) => f.osRelease.VERSION_CODENAME,
  core_os_kernel_version: (f) => f.kernelRelease,
  core_os_kernel_tags: (f) => f.kernelVersion,
  core_os_kernel_config: () => undefined,
  encryption_key_type: () => undefined,
};

export const DEVICE_INFO: Record<string, Source> = {
  device_name: (f) => f.hostname,
  device_id: (f) => f.machineId,
  board_type: (f) => f.board,
};

export const SOFTWARE_INFO: Record<string, Source> = {
  nodejs_versions: (f) => [f.nodeVersion],
};

/**
 * The reply for the asked keys (all known ones when none are asked): each with its true value, else UNKNOWN_VALUE.
 * A key the table does not know is refused (UNKNOWN_KEY) with the known ones named.
 */
export function answerKeys(table: Record<string, Source>, asked: unknown, facts: OsFacts): Payload {
  const known = Object.keys(table);
  const keys = Array.isArray(asked) && asked.length > 0 ? asked.map(String) : known;
  const out: Payload = { returnValue: true };
  for (const k of keys) {
    if (!Object.hasOwn(table, k)) throw new CodedError(SystemInfoErrorCode.UNKNOWN_KEY, SystemInfoText.unknownKey(k, known));
    const v = table[k](facts);
    out[k] = v === undefined || v === '' ? SystemInfoText.UNKNOWN_VALUE : v;
  }
  return out;
}

const querySchema = { type: 'object', properties: { parameters: { type: 'array', items: { type: 'string' } } } };

export class SystemServiceService {
  constructor(private readonly client: LunaClient, private readonly facts: () => OsFacts = readOsFacts) {}

  open(): void {
    const query = (table: Record<string, Source>) => ({
      schema: querySchema,
      groups: ['systemservice.query', 'arescli.interface'],
      handler: (msg: { payload: Payload }) => answerKeys(table, msg.payload.parameters, this.facts()),
    });
    this.client.registerCategory('/osInfo', { query: query(OS_INFO) });
    this.client.registerCategory('/deviceInfo', { query: query(DEVICE_INFO) });
    this.client.registerCategory('/softwareInfo', { query: query(SOFTWARE_INFO) });
  }
}
