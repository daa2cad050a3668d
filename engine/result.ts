// Errors as values for the engine: a code and a text from status-codes/engine.ts, returned (never thrown) for bad
// requests and refused actions. Not for I/O failures of the engine's own state files, which are thrown as they are.
import { EngineErrorCode, EngineErrorText } from '../status-codes/engine';

/** `code` is one of status-codes/engine.ts EngineErrorCode, or for an operation's result the code its runner set. */
export interface EngineError {
  readonly code: number;
  readonly text: string;
}

export type Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: EngineError };

export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

export function fail<T = never>(code: (typeof EngineErrorCode)[keyof typeof EngineErrorCode], text: string): Result<T> {
  return { ok: false, error: { code, text } };
}

/** A request string field: present, a string, non-empty, at most `max` characters, no control characters. */
export function checkText(name: string, v: unknown, max: number): Result<string> {
  if (v === undefined || v === null || v === '') return fail(EngineErrorCode.WRONG_PARAMS, EngineErrorText.fieldMissing(name));
  if (typeof v !== 'string') return fail(EngineErrorCode.WRONG_PARAMS, EngineErrorText.fieldType(name, 'a string'));
  if (v.length > max) return fail(EngineErrorCode.WRONG_PARAMS, EngineErrorText.fieldTooLong(name, max));
  if (/[\u0000-\u001f\u007f]/.test(v)) return fail(EngineErrorCode.WRONG_PARAMS, EngineErrorText.fieldBad(name, 'must not contain control characters'));
  return ok(v);
}
