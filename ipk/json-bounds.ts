// Bounds on untrusted JSON: nesting depth and size, checked without recursion (a 150,000-deep document must not
// reach JSON.parse, JSON.stringify or any recursive walk, which is where it would blow the stack later, for
// every reader). Used for package metadata (appinfo.json, packageinfo.json, services.json), request payloads and
// the daemon's state files. Pure, no I/O.

/** Deepest nesting accepted in any untrusted JSON document (package metadata, state files, request payloads). */
export const MAX_JSON_DEPTH = 64;

/** Pure: is the nesting of JSON text deeper than `max` ([ and { outside strings, counted in one pass)? */
export function textDepthOver(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/** Pure: is a parsed value nested deeper than `max` (a scalar is depth 0, `{}` depth 1)? Iterative, stops early. */
export function valueDepthOver(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (d + 1 > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) if (typeof child === 'object' && child !== null) stack.push([child, d + 1]);
  }
  return false;
}

/** Parses JSON text within bounds; throws an Error whose message says which bound (the caller names the file). */
export function parseBoundedJson(text: string, maxBytes: number, maxDepth = MAX_JSON_DEPTH): unknown {
  if (text.length > maxBytes) throw new Error(`larger than ${maxBytes} bytes`);
  if (textDepthOver(text, maxDepth)) throw new Error(`nested deeper than ${maxDepth} levels`);
  return JSON.parse(text.replace(/^\uFEFF/, ''));
}
