// Glob patterns of luna-service2 security files: `*` matches any run of characters (also empty, also `/`),
// every other character matches itself. Pure; no file formats or decisions here.

const cache = new Map<string, RegExp>();

export function isGlob(pattern: string): boolean {
  return pattern.includes('*');
}

/** Does `text` match `pattern` entirely? */
export function globMatch(pattern: string, text: string): boolean {
  if (!isGlob(pattern)) return pattern === text;
  let re = cache.get(pattern);
  if (!re) {
    const body = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*');
    re = new RegExp(`^${body}$`, 's');
    if (cache.size > 4096) cache.clear();
    cache.set(pattern, re);
  }
  return re.test(text);
}

/** How specific a matching pattern is: an exact pattern beats any glob, then more literal characters win. */
export function specificity(pattern: string): number {
  return isGlob(pattern) ? pattern.replace(/\*/g, '').length : 1_000_000 + pattern.length;
}
