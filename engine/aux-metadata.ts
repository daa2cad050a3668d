// Aux metadata (Thunder PackageManager `setAuxMetadata`/`clearAuxMetadata`): per app key/value strings set by callers,
// kept across restarts, dropped with the app. Not the package's own metadata (appinfo, control fields), which comes
// from the installed package itself.
import path from 'node:path';
import { EngineErrorCode, EngineErrorText } from '../status-codes/engine';
import { Checked, readJsonState, removeStaleTemps, SerialQueue, writeStateFile } from './state-file';
import { checkAppId } from './locks';
import { checkText, fail, ok, Result } from './result';

export const MAX_KEY_LENGTH = 128;
export const MAX_VALUE_LENGTH = 1024;
export const MAX_KEYS_PER_APP = 64;
/** Across all apps, so the file stays small (at most a few MiB). */
export const MAX_TOTAL_ENTRIES = 4096;
const MAX_FILE_BYTES = 8 * 1024 * 1024;

/** app id → key → value. */
export type AuxState = Readonly<Record<string, Readonly<Record<string, string>>>>;

function checkKey(key: unknown): Result<string> {
  return checkText('key', key, MAX_KEY_LENGTH);
}

function checkValue(value: unknown): Result<string> {
  if (typeof value !== 'string') return fail(EngineErrorCode.WRONG_PARAMS, EngineErrorText.fieldType('value', 'a string'));
  if (value.length > MAX_VALUE_LENGTH) return fail(EngineErrorCode.WRONG_PARAMS, EngineErrorText.fieldTooLong('value', MAX_VALUE_LENGTH));
  return ok(value);
}

function totalEntries(state: AuxState): number {
  let n = 0;
  for (const id of Object.keys(state)) n += Object.keys(state[id]).length;
  return n;
}

/** Pure: the state with `id`'s `key` set to `value`; or why not. */
export function setAux(state: AuxState, id: unknown, key: unknown, value: unknown): Result<AuxState> {
  const i = checkAppId(id);
  if (!i.ok) return i;
  const k = checkKey(key);
  if (!k.ok) return k;
  const v = checkValue(value);
  if (!v.ok) return v;
  const app = Object.prototype.hasOwnProperty.call(state, i.value) ? state[i.value] : {};
  const isNew = !Object.prototype.hasOwnProperty.call(app, k.value);
  if (isNew && Object.keys(app).length >= MAX_KEYS_PER_APP) return fail(EngineErrorCode.TOO_MANY, EngineErrorText.tooManyAux(i.value, MAX_KEYS_PER_APP));
  if (isNew && totalEntries(state) >= MAX_TOTAL_ENTRIES) return fail(EngineErrorCode.TOO_MANY, EngineErrorText.tooManyAux('(all apps)', MAX_TOTAL_ENTRIES));
  return ok({ ...state, [i.value]: { ...app, [k.value]: v.value } });
}

/** Pure: the state without `id`'s `key` (absent already: unchanged, not an error). */
export function clearAux(state: AuxState, id: unknown, key: unknown): Result<AuxState> {
  const i = checkAppId(id);
  if (!i.ok) return i;
  const k = checkKey(key);
  if (!k.ok) return k;
  if (!Object.prototype.hasOwnProperty.call(state, i.value) || !Object.prototype.hasOwnProperty.call(state[i.value], k.value)) return ok(state);
  const { [k.value]: _gone, ...rest } = state[i.value];
  const out = { ...state };
  if (Object.keys(rest).length === 0) delete (out as Record<string, unknown>)[i.value];
  else (out as Record<string, unknown>)[i.value] = rest;
  return ok(out);
}

/** Pure: the shape check of the aux file's JSON (every bound enforced again: the file may have been edited). */
export function checkAuxState(json: unknown): Checked<AuxState> {
  if (!json || typeof json !== 'object' || Array.isArray(json)) return { problem: 'not a JSON object' };
  let state: AuxState = {};
  for (const [id, entries] of Object.entries(json as Record<string, unknown>)) {
    if (!entries || typeof entries !== 'object' || Array.isArray(entries)) return { problem: `entry of ${id.slice(0, 80)} is not an object` };
    for (const [k, v] of Object.entries(entries as Record<string, unknown>)) {
      const r = setAux(state, id, k, v);
      if (!r.ok) return { problem: r.error.text };
      state = r.value;
    }
  }
  return { value: state };
}

/** The aux metadata of a state directory (`<stateDir>/aux-metadata.json`). */
export class AuxMetadata {
  private readonly queue = new SerialQueue();

  private constructor(readonly file: string, private state: AuxState) {}

  /** Loads the file; a damaged one is set aside and reported in `problem` (its entries are lost, and said so). */
  static async open(stateDir: string): Promise<{ aux: AuxMetadata; problem?: string }> {
    const file = path.join(stateDir, 'aux-metadata.json');
    await removeStaleTemps(file);
    const read = await readJsonState(file, MAX_FILE_BYTES, checkAuxState);
    if (read.kind === 'ok') return { aux: new AuxMetadata(file, read.value) };
    return { aux: new AuxMetadata(file, {}), problem: read.kind === 'damaged' ? read.problem : undefined };
  }

  /** The app's aux metadata (a copy; `{}` when it has none). */
  get(id: string): Record<string, string> {
    return Object.prototype.hasOwnProperty.call(this.state, id) ? { ...this.state[id] } : {};
  }

  set(id: unknown, key: unknown, value: unknown): Promise<Result<void>> {
    return this.change((s) => setAux(s, id, key, value));
  }

  clear(id: unknown, key: unknown): Promise<Result<void>> {
    return this.change((s) => clearAux(s, id, key));
  }

  /** The ids that have aux metadata. */
  ids(): string[] {
    return Object.keys(this.state);
  }

  /** Drops everything of `id` (the app was removed). */
  removeApp(id: string): Promise<Result<void>> {
    return this.change((s) => {
      if (!Object.prototype.hasOwnProperty.call(s, id)) return ok(s);
      const out = { ...s };
      delete (out as Record<string, unknown>)[id];
      return ok(out);
    });
  }

  private change(f: (s: AuxState) => Result<AuxState>): Promise<Result<void>> {
    return this.queue.run(async () => {
      const r = f(this.state);
      if (!r.ok) return r;
      if (r.value !== this.state) {
        await writeStateFile(this.file, JSON.stringify(r.value));
        this.state = r.value;
      }
      return ok(undefined);
    });
  }
}
