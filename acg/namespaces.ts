// The platform's privileged name spaces (webOS: com.palm, com.webos, com.lge) and the one rule for them, used by
// the ACG (what a developer install may own) and by the installer (the -15 / -19 refusals of /dev/*). Pure.
import { isGlob } from './glob';

export const PRIVILEGED_NAMESPACES: readonly string[] = ['com.palm', 'com.webos', 'com.lge'];

/**
 * Is a name (package, app, service or group id) in a privileged name space: the prefix itself (`com.webos`),
 * anything under it (`com.webos.x`), or a name above one (`com`), whose own sub-names would reach into it.
 */
export function isPrivilegedName(name: string): boolean {
  return PRIVILEGED_NAMESPACES.some((p) => name === p || name.startsWith(`${p}.`) || p.startsWith(`${name}.`));
}

/** Could a name pattern (a luna-service2 glob such as `com.we*` or `*`) match a name in a privileged name space? */
export function mayNamePrivileged(pattern: string): boolean {
  if (!isGlob(pattern)) return isPrivilegedName(pattern);
  const literal = pattern.slice(0, pattern.indexOf('*'));
  return PRIVILEGED_NAMESPACES.some((p) => `${p}.`.startsWith(literal) || isPrivilegedName(literal.replace(/[.-]$/, '')));
}
