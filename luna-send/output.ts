// How luna-send prints: one reply as text (compact, -f pretty, -l index, -q queries) and the -t timing lines.
// Pure string building; writing and flushing is cli.ts's business.
import type { Payload } from '../ipc/protocol';

/** One step of a query path: an object key or an array index. */
export type QueryStep = { key: string } | { index: number };

/** Parse `a.b[2].c` (also `[0].x`, `a[1][2]`) into steps, or say why it is not a path. */
export function parseQueryPath(path: string): { steps: QueryStep[]; error?: undefined } | { steps?: undefined; error: string } {
  if (path === '') return { error: 'the query path is empty' };
  const steps: QueryStep[] = [];
  let pos = 0;
  while (pos < path.length) {
    const c = path[pos];
    if (c === '[') {
      const close = path.indexOf(']', pos);
      const inner = close < 0 ? '' : path.slice(pos + 1, close);
      if (!/^\d+$/.test(inner)) return { error: `bad array index in "${path}" at position ${pos} (expected [N])` };
      steps.push({ index: Number(inner) });
      pos = close + 1;
    } else {
      if (c === '.') {
        if (pos === 0) return { error: `"${path}" starts with "."` };
        pos++;
      } else if (pos !== 0) {
        return { error: `unexpected "${c}" in "${path}" at position ${pos}` };
      }
      let end = pos;
      while (end < path.length && path[end] !== '.' && path[end] !== '[') end++;
      if (end === pos) return { error: `empty key in "${path}" at position ${pos}` };
      steps.push({ key: path.slice(pos, end) });
      pos = end;
    }
  }
  return { steps };
}

/** The value at `path` in `value`, or undefined when there is none. */
export function applyQuery(value: unknown, path: string): unknown {
  const parsed = parseQueryPath(path);
  if (!parsed.steps) return undefined;
  let cur: unknown = value;
  for (const step of parsed.steps) {
    if ('index' in step) {
      if (!Array.isArray(cur)) return undefined;
      cur = cur[step.index];
    } else {
      if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return undefined;
      cur = Object.prototype.hasOwnProperty.call(cur, step.key) ? (cur as Record<string, unknown>)[step.key] : undefined;
    }
    if (cur === undefined) return undefined;
  }
  return cur;
}

export interface FormatOptions { pretty: boolean; lineNumbers: boolean; queries: string[] }

/** The text printed for reply number `index` (0-based), without the trailing newline. */
export function formatReply(payload: Payload, index: number, opts: FormatOptions): string {
  let value: unknown = payload;
  if (opts.queries.length > 0) {
    const picked: Record<string, unknown> = {};
    for (const q of opts.queries) {
      const v = applyQuery(payload, q);
      picked[q] = v === undefined ? null : v;
    }
    value = picked;
  }
  const prefix = opts.lineNumbers ? `${String(index).padStart(2, ' ')}: ` : '';
  if (!opts.pretty) return prefix + JSON.stringify(value);
  // With -l, continuation lines line up after the "NN: " prefix, as luna-send does.
  return prefix + prettyPrint(value, 0, opts.lineNumbers ? 4 : 0);
}

const INDENT_STEP = 4;

/**
 * luna-send's -f layout: 4-space steps, every element and member on its own line, and the brackets of an empty
 * object or array on lines of their own too (`{`, newline, `}` at the enclosing indent), also when nested, where
 * JSON.stringify would write `{}` / `[]`. `firstIndent` pads the opening line, `indent` is the current level.
 * Scalars are compact JSON. Unlike luna-send, member names are escaped, so the output is always valid JSON.
 */
export function prettyPrint(value: unknown, firstIndent: number, indent: number): string {
  const pad = (n: number) => ' '.repeat(n);
  const inner = indent + INDENT_STEP;
  if (Array.isArray(value)) {
    const items = value.map((v) => prettyPrint(v === undefined ? null : v, inner, inner));
    return `${pad(firstIndent)}[\n${items.length ? items.join(',\n') + '\n' : ''}${pad(indent)}]`;
  }
  if (typeof value === 'object' && value !== null) {
    const members = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${pad(inner)}${JSON.stringify(k)}: ${prettyPrint(v, 0, inner)}`);
    return `${pad(firstIndent)}{\n${members.length ? members.join(',\n') + '\n' : ''}${pad(indent)}}`;
  }
  return pad(firstIndent) + (JSON.stringify(value) ?? 'null');
}

/** The -t summary, as luna-send prints it. */
export function formatTiming(totalMs: number, iterations: number, sentBytes: number, receivedBytes: number): string {
  const per = iterations > 0 ? totalMs / iterations : 0;
  return `Total time ${totalMs.toFixed(2)} ms, ${iterations} iterations, ${per.toFixed(2)} ms per iteration\n` +
    `${sentBytes} bytes sent, ${receivedBytes} bytes received`;
}
