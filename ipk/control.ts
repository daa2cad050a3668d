// The Debian/opkg `control` file of an ipk: pure parsing (RFC822-style fields, continuation lines,
// Installed-Size in bytes) and formatting. No I/O; the archive around it is ipk-reader.ts's business.
import { CodedError, ErrorCode, ErrorText } from '../status-codes';

/** Package ids (control `Package`, app ids): docs/ipk.md. */
export const PACKAGE_ID_RE = /^[a-z0-9.+-]+$/;

/** The fields of a control file that matter, plus every field as written (`raw`, original names). */
export interface ControlFields {
  packageName: string;
  version: string;
  architecture: string;
  /** Bytes (webOS convention); undefined when the field is absent. */
  installedSize?: number;
  raw: Record<string, string>;
}

function bad(detail: string): CodedError {
  return new CodedError(ErrorCode.INSTALL_FAILED, ErrorText.PARSE_CONTROL_FAILED, detail);
}

/** Pure: the field/value pairs of the first paragraph, in order. Throws on malformed lines and duplicates. */
export function parseControlText(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  const seen = new Set<string>();
  let last: string | undefined;
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === '') {
      if (last !== undefined) break; // end of the first paragraph
      continue;
    }
    if (line.startsWith('#')) continue;
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (last === undefined) throw bad(`line ${i + 1} continues a field but no field precedes it`);
      const cont = line.trim();
      fields[last] += '\n' + (cont === '.' ? '' : cont);
      continue;
    }
    const m = /^([!-9;-~][!-9;-~]*):(.*)$/.exec(line);
    if (!m) throw bad(`line ${i + 1} is not a "Field: value" line: ${JSON.stringify(line.slice(0, 60))}`);
    const name = m[1];
    if (seen.has(name.toLowerCase())) throw bad(`duplicate field "${name}"`);
    seen.add(name.toLowerCase());
    fields[name] = m[2].trim();
    last = name;
  }
  return fields;
}

function field(raw: Record<string, string>, name: string): string | undefined {
  const key = Object.keys(raw).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : raw[key];
}

/** Pure: parse and check a control file (Package and Version required, Package a valid id, Installed-Size a number). */
export function parseControl(text: string): ControlFields {
  const raw = parseControlText(text);
  const packageName = field(raw, 'Package');
  if (packageName === undefined || packageName === '') throw bad('control has no Package field');
  if (!PACKAGE_ID_RE.test(packageName)) {
    throw bad(`Package "${packageName}" is not a valid package id (allowed: a-z 0-9 . + -)`);
  }
  const version = field(raw, 'Version');
  if (version === undefined || version === '') throw bad('control has no Version field');
  if (/\s/.test(version)) throw bad(`Version "${version}" contains whitespace`);
  const architecture = field(raw, 'Architecture') || 'all';
  const sizeText = field(raw, 'Installed-Size');
  let installedSize: number | undefined;
  if (sizeText !== undefined) {
    if (!/^[0-9]{1,15}$/.test(sizeText)) throw bad(`Installed-Size "${sizeText}" is not a number of bytes`);
    installedSize = Number(sizeText);
  }
  return { packageName, version, architecture, installedSize, raw };
}

/** Pure: a control file as ares-package writes it (field order kept; one trailing newline). Multi-line values become
 *  continuation lines, an empty line inside a value becomes " ." (as Debian writes it), so parseControlText reads it back. */
export function formatControl(fields: Array<[string, string]>): string {
  const value = (v: string) => v.split('\n').map((line, i) => (i === 0 ? line : ` ${line.trim() === '' ? '.' : line}`)).join('\n');
  return fields.map(([k, v]) => `${k}: ${value(v)}`).join('\n') + '\n';
}
