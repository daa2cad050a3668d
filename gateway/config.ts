// The "gateway" key of <root>/etc/palm/appinstalld.json: listen addresses and limits of the HTTP gateway (docs/gateway.md).
// `false` turns the gateway off; absent = defaults (loopback 127.0.0.1:8090 only). Unknown keys are refused.
import { GatewayText } from '../status-codes/peer-errors';

export interface ListenAddress { host: string; port: number }

export interface GatewayConfig {
  enabled: boolean;
  listen: ListenAddress[];
  /** Largest JSON body (bytes). */
  maxBodyBytes: number;
  /** Largest PUT upload of an .ipk (bytes). */
  maxUploadBytes: number;
  /** Open connections in total, and from one remote address. */
  maxConnections: number;
  maxConnectionsPerAddress: number;
  /** A client must send its headers within this time, the whole request within requestTimeoutMs. */
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  /** A connection with no traffic for this long is closed (WebSockets are pinged instead). */
  idleTimeoutMs: number;
  /** Largest WebSocket message, and messages a connection may send per second (burst = twice that). */
  wsMaxMessageBytes: number;
  wsMessagesPerSecond: number;
  /** WebSocket connections (they also count as connections). */
  maxWebSockets: number;
}

export const DEFAULT_GATEWAY: GatewayConfig = {
  enabled: true,
  listen: [{ host: '127.0.0.1', port: 8090 }],
  maxBodyBytes: 64 * 1024,
  maxUploadBytes: 256 * 1024 * 1024,
  maxConnections: 1024,
  maxConnectionsPerAddress: 64,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 300_000,
  idleTimeoutMs: 60_000,
  wsMaxMessageBytes: 64 * 1024,
  wsMessagesPerSecond: 50,
  maxWebSockets: 2000,
};

const NUMERIC: Array<[keyof GatewayConfig, number, number]> = [
  ['maxBodyBytes', 256, 16 * 1024 * 1024],
  ['maxUploadBytes', 1024, 4 * 1024 * 1024 * 1024],
  ['maxConnections', 1, 100_000],
  ['maxConnectionsPerAddress', 1, 100_000],
  ['headersTimeoutMs', 100, 600_000],
  ['requestTimeoutMs', 100, 3_600_000],
  ['idleTimeoutMs', 100, 3_600_000],
  ['wsMaxMessageBytes', 256, 16 * 1024 * 1024],
  ['wsMessagesPerSecond', 1, 100_000],
  ['maxWebSockets', 1, 100_000],
];

/** "127.0.0.1:8090", "[::1]:8090" or ":8090" (all addresses: never the default). */
export function parseListen(s: string): ListenAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(s);
  if (!m) throw new Error(GatewayText.badConfig(`listen address "${s}" must be HOST:PORT or [IPV6]:PORT`));
  const port = Number(m[3]);
  if (port > 65535) throw new Error(GatewayText.badConfig(`port ${port} out of range`));
  const host = m[1] ?? m[2];
  return { host: host === '' ? '0.0.0.0' : host, port };
}

export function parseGatewayConfig(value: unknown): GatewayConfig {
  if (value === undefined) return { ...DEFAULT_GATEWAY };
  if (value === false) return { ...DEFAULT_GATEWAY, enabled: false };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(GatewayText.badConfig('must be false or an object'));
  const cfg: GatewayConfig = { ...DEFAULT_GATEWAY };
  for (const [k, v] of Object.entries(value)) {
    if (k === 'enabled') {
      if (typeof v !== 'boolean') throw new Error(GatewayText.badConfig('"enabled" must be true or false'));
      cfg.enabled = v;
    } else if (k === 'listen') {
      const list = typeof v === 'string' ? [v] : v;
      if (!Array.isArray(list) || list.length === 0 || list.length > 16 || !list.every((x) => typeof x === 'string')) {
        throw new Error(GatewayText.badConfig('"listen" must be an address or a list of 1 to 16 addresses'));
      }
      cfg.listen = list.map(parseListen);
    } else {
      const spec = NUMERIC.find(([name]) => name === k);
      if (!spec) throw new Error(GatewayText.badConfig(`unknown key "${k}" (known: enabled, listen, ${NUMERIC.map(([n]) => n).join(', ')})`));
      const [, min, max] = spec;
      if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max) throw new Error(GatewayText.badConfig(`"${k}" must be an integer from ${min} to ${max}`));
      (cfg as unknown as Record<string, number>)[k] = v as number;
    }
  }
  return cfg;
}
