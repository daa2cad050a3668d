// A firmware ipk as test/appinstall-firmware.test.ts builds them: control "Section: firmware", data only
// lib/firmware/<name>/<files>.
import fs from 'node:fs';
import path from 'node:path';
import { buildTar, controlText, controlTgz, gz, ipkOf, type TarEntry } from './ipk-corpus';

/** Writes <dir>/<name>_<version>.ipk (dir made world-readable) and returns its path. */
export function firmwareIpk(dir: string, name: string, version: string, files: Record<string, string>): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.chmodSync(dir, 0o755);
  const entries: TarEntry[] = [
    { path: 'lib/', type: 'dir' }, { path: 'lib/firmware/', type: 'dir' }, { path: `lib/firmware/${name}/`, type: 'dir' },
    ...Object.entries(files).map(([f, body]) => ({ path: `lib/firmware/${name}/${f}`, body })),
  ];
  const file = path.join(dir, `${name}_${version}.ipk`);
  fs.writeFileSync(file, ipkOf(gz(buildTar(entries)), controlTgz(controlText(name, { Version: version, Section: 'firmware', Description: `${name} firmware` }))));
  fs.chmodSync(file, 0o644);
  return file;
}
