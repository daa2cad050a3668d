// The daemon config file <root>/etc/palm/appinstalld.json (docs/layout.md): optional; a bad file is a clear start-up error.
// Reading and checking only; the values are used by the engine (engine/config.ts), the services and the gateway.
import fs from 'node:fs';
import { CodedError, ErrorCode, ErrorText } from '../../status-codes';
import { DEFAULT_LIMITS } from '../../ipk/entry-rules';
import { parseBoundedJson } from '../../ipk/json-bounds';
import type { EngineConfig } from '../../engine/config';
import { DEFAULT_GATEWAY, parseGatewayConfig, type GatewayConfig } from '../../gateway/config';

const MAX_CONFIG_BYTES = 64 * 1024;

/** The daemon's settings: the engine's (engine/config.ts) and those of the services and the gateway. */
export interface DaemonConfig extends EngineConfig {
  /** The HTTP gateway (gateway/config.ts); `"gateway": false` turns it off. */
  gateway: GatewayConfig;
  /** Downloads (feeds' packages, URL installs, the download manager) running at once. */
  downloadConcurrency: number;
  /** Failed attempts in a row (no byte received) before a download gives up. */
  downloadAttempts: number;
  /** Longest a feed's index fetch may take, and its largest size as sent. */
  feedRefreshTimeoutMs: number;
  feedMaxDownloadBytes: number;
  /** Download progress events (statusValue 8, download manager records) at most this often. */
  downloadProgressIntervalMs: number;
}

/** Integer keys (feeds, downloads, the firmware hand-off), with their bounds. */
const INT_KEYS = {
  downloadConcurrency: [1, 16],
  downloadAttempts: [1, 50],
  feedRefreshTimeoutMs: [1000, 3_600_000],
  feedMaxDownloadBytes: [1024, 1024 ** 3],
  downloadProgressIntervalMs: [10, 60_000],
  firmwareHandoffTimeoutSec: [1, 3600],
} as const;

export const DEFAULT_CONFIG: DaemonConfig = {
  requireSignature: false, maxConcurrentTasks: 4, maxQueuedTasksPerCaller: 8, extractLimits: DEFAULT_LIMITS, gateway: DEFAULT_GATEWAY,
  operationHistory: 200, storageQuotas: { apps: null, persistent: null },
  downloadConcurrency: 2, downloadAttempts: 5, feedRefreshTimeoutMs: 120_000, feedMaxDownloadBytes: 32 * 1024 * 1024, downloadProgressIntervalMs: 250,
  firmwareHandoff: null, firmwareHandoffTimeoutSec: 60,
};

const LIMIT_KEYS = ['maxDepth', 'maxEntries', 'maxTotalBytes', 'maxRatio'] as const;

/** Checks a parsed config object; unknown keys are refused so that a typo is not silently ignored. */
export function parseDaemonConfig(value: unknown, file = 'appinstalld.json'): DaemonConfig {
  const bad = (why: string) => new CodedError(ErrorCode.GENERAL, ErrorText.BAD_DAEMON_CONFIG, `${file}: ${why}`);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('must be a JSON object');
  const cfg: DaemonConfig = { ...DEFAULT_CONFIG };
  for (const [k, v] of Object.entries(value)) {
    if (k === 'requireSignature') {
      if (typeof v !== 'boolean') throw bad('"requireSignature" must be true or false');
      cfg.requireSignature = v;
    } else if (k === 'maxConcurrentTasks') {
      if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > 256) throw bad('"maxConcurrentTasks" must be an integer from 1 to 256');
      cfg.maxConcurrentTasks = v as number;
    } else if (k === 'maxQueuedTasksPerCaller') {
      if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > 4096) throw bad('"maxQueuedTasksPerCaller" must be an integer from 1 to 4096');
      cfg.maxQueuedTasksPerCaller = v as number;
    } else if (k === 'extractLimits') {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('"extractLimits" must be an object');
      const limits = { ...DEFAULT_LIMITS };
      for (const [lk, lv] of Object.entries(v)) {
        if (!(LIMIT_KEYS as readonly string[]).includes(lk)) throw bad(`unknown key "extractLimits.${lk}" (known: ${LIMIT_KEYS.join(', ')})`);
        if (!Number.isSafeInteger(lv) || (lv as number) < 1) throw bad(`"extractLimits.${lk}" must be a positive integer`);
        limits[lk as (typeof LIMIT_KEYS)[number]] = lv as number;
      }
      cfg.extractLimits = limits;
    } else if (k === 'gateway') {
      try {
        cfg.gateway = parseGatewayConfig(v);
      } catch (e) {
        throw bad((e as Error).message);
      }
    } else if (k === 'operationHistory') {
      if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > 10000) throw bad('"operationHistory" must be an integer from 1 to 10000');
      cfg.operationHistory = v as number;
    } else if (k === 'storageQuotas') {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('"storageQuotas" must be an object like {"apps": KiB, "persistent": KiB}');
      const quotas = { ...DEFAULT_CONFIG.storageQuotas };
      for (const [qk, qv] of Object.entries(v)) {
        if (qk !== 'apps' && qk !== 'persistent') throw bad(`unknown key "storageQuotas.${qk}" (known: apps, persistent)`);
        if (qv !== null && (!Number.isSafeInteger(qv) || (qv as number) < 0)) throw bad(`"storageQuotas.${qk}" must be a whole number of KiB (or null)`);
        quotas[qk] = qv as number | null;
      }
      cfg.storageQuotas = quotas;
    } else if (k === 'firmwareHandoff') {
      const ok = v === null || (Array.isArray(v) && v.length >= 1 && v.length <= 64 && v.every((a) => typeof a === 'string' && a.length <= 4096 && !a.includes('\0')) && (v[0] as string).length > 0);
      if (!ok) throw bad('"firmwareHandoff" must be null or an argv array of 1 to 64 strings (the program first, non-empty)');
      cfg.firmwareHandoff = v as string[] | null;
    } else if (k in INT_KEYS) {
      const [lo, hi] = INT_KEYS[k as keyof typeof INT_KEYS];
      if (!Number.isInteger(v) || (v as number) < lo || (v as number) > hi) throw bad(`"${k}" must be an integer from ${lo} to ${hi}`);
      cfg[k as keyof typeof INT_KEYS] = v as number;
    } else {
      throw bad(`unknown key "${k}" (known: requireSignature, maxConcurrentTasks, maxQueuedTasksPerCaller, extractLimits, gateway, firmwareHandoff, operationHistory, storageQuotas, ${Object.keys(INT_KEYS).join(', ')})`);
    }
  }
  return cfg;
}

/** Reads the config file; absent = defaults. */
export function loadDaemonConfig(file: string): DaemonConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { ...DEFAULT_CONFIG };
    throw new CodedError(ErrorCode.GENERAL, ErrorText.BAD_DAEMON_CONFIG, `${file}: ${(e as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = parseBoundedJson(text, MAX_CONFIG_BYTES);
  } catch (e) {
    throw new CodedError(ErrorCode.GENERAL, ErrorText.BAD_DAEMON_CONFIG, `${file}: not valid JSON: ${(e as Error).message}`);
  }
  return parseDaemonConfig(parsed, file);
}
