// `ipk pack`: build an ipk from an app directory and service directories exactly as ares-package lays it out
// (<id>_<version>_all.ipk; debian-binary, control.tar.gz, data.tar.gz; optional --sign/--certificate). Not reading ipks.
import { promises as fsp } from 'node:fs';
import crypto from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { create as tarCreate } from 'tar';
import { writeArFile } from './ar';
import { formatControl } from './control';
import { AppInfo, parseJson, serviceIdOf, validateAppInfo, validateServicesJson } from './metadata';
import { SIGNATURE_FILE } from './ipk-reader';
import { maskedMode } from './entry-rules';

/** A problem with the input of `ipk pack` (bad directory, bad appinfo.json, bad key): the message says which. */
export class PackError extends Error {
  override name = 'PackError';
}

export interface PackOptions {
  outDir?: string;
  /** PEM private key and certificate, both or neither (ares-package --sign / --certificate). */
  signKey?: string;
  certificate?: string;
}

export interface PackResult {
  file: string;
  packageName: string;
  version: string;
  installedSize: number;
  services: string[];
}

/** The control fields ares-package writes, in its order. */
export function controlFieldsFor(id: string, version: string, installedSize: number): Array<[string, string]> {
  return [
    ['Package', id],
    ['Version', version],
    ['Section', 'misc'],
    ['Priority', 'optional'],
    ['Architecture', 'all'],
    ['Installed-Size', String(installedSize)],
    ['Maintainer', 'N/A <nobody@example.com>'],
    ['Description', 'This is a webOS application.'],
    ['webOS-Package-Format-Version', '2'],
    ['webOS-Packager-Version', 'x.y.x'],
  ];
}

async function readJsonIn(dir: string, file: string): Promise<unknown> {
  const p = path.join(dir, file);
  let text: string;
  try {
    text = await fsp.readFile(p, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new PackError(code === 'ENOENT' ? `${p} is missing` : `cannot read ${p}: ${(e as Error).message}`);
  }
  const r = parseJson(file, text);
  if (!r.ok) throw new PackError(`${dir}: ${r.problem}`);
  return r.value;
}

async function mustBeDir(dir: string, what: string): Promise<void> {
  let st;
  try {
    st = await fsp.stat(dir);
  } catch {
    throw new PackError(`${what} ${dir} does not exist`);
  }
  if (!st.isDirectory()) throw new PackError(`${what} ${dir} is not a directory`);
}

/** Copy a source tree (symlinks followed; sockets, FIFOs, devices and *.ipk skipped), excluding `exclude` paths. */
async function copyTree(src: string, dest: string, exclude: Set<string>): Promise<void> {
  await fsp.cp(src, dest, {
    recursive: true,
    dereference: true,
    filter: async (from) => {
      if (exclude.has(path.resolve(from))) return false;
      const st = await fsp.stat(from).catch(() => undefined);
      if (!st) return false;
      if (st.isDirectory()) return true;
      return st.isFile() && !from.endsWith('.ipk');
    },
  });
}

/** Normalise modes (dirs 0755, files 0644 or 0755) and sum the lstat sizes of everything in the tree, the
 * directories and the tree's own root included: that is how ares-package computes Installed-Size. */
async function normaliseTree(dir: string): Promise<number> {
  let total = (await fsp.lstat(dir)).size;
  for (const d of await fsp.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, d.name);
    const st = await fsp.lstat(p);
    if (st.isDirectory()) {
      await fsp.chmod(p, 0o755);
      total += await normaliseTree(p);
    } else {
      total += st.size;
      await fsp.chmod(p, maskedMode('file', st.mode));
    }
  }
  return total;
}

async function tgz(cwd: string, entries: string[], file: string): Promise<void> {
  await tarCreate({ gzip: true, cwd, file, portable: true }, entries);
}

/** Build `<id>_<version>_all.ipk` in `opts.outDir` (default cwd) from an app dir and service dirs. */
export async function packApp(appDir: string, serviceDirs: string[] = [], opts: PackOptions = {}): Promise<PackResult> {
  appDir = path.resolve(appDir);
  await mustBeDir(appDir, 'APPDIR');
  const v = validateAppInfo(await readJsonIn(appDir, 'appinfo.json'));
  if (!v.ok) throw new PackError(`${appDir}: ${v.problem}`);
  const app: AppInfo = v.value;
  if (!/^[0-9A-Za-z.+~-]+$/.test(app.version)) throw new PackError(`${appDir}: appinfo.json: "version" is ${JSON.stringify(app.version)}, not a package version`);
  if ((opts.signKey && !opts.certificate) || (!opts.signKey && opts.certificate)) throw new PackError('--sign and --certificate must be used together');

  const services: Array<{ id: string; dir: string }> = [];
  for (const raw of serviceDirs) {
    const dir = path.resolve(raw);
    await mustBeDir(dir, 'SERVICEDIR');
    const s = validateServicesJson(await readJsonIn(dir, 'services.json'));
    if (!s.ok) throw new PackError(`${dir}: ${s.problem}`);
    const id = serviceIdOf(s.value);
    if (!id) throw new PackError(`${dir}: services.json has neither "id" nor services[0].name`);
    if (!id.startsWith(app.id + '.')) throw new PackError(`${dir}: service id "${id}" does not start with "${app.id}."`);
    for (const sv of s.value.services ?? []) {
      if (!sv.name.startsWith(app.id + '.')) throw new PackError(`${dir}: service name "${sv.name}" does not start with "${app.id}."`);
    }
    if (services.some((x) => x.id === id)) throw new PackError(`service "${id}" is given twice`);
    services.push({ id, dir });
  }

  const outDir = path.resolve(opts.outDir ?? '.');
  await fsp.mkdir(outDir, { recursive: true });
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'ipk-pack-'));
  try {
    const data = path.join(tmp, 'data');
    const palm = path.join(data, 'usr/palm');
    await copyTree(appDir, path.join(palm, 'applications', app.id), new Set(services.map((s) => s.dir)));
    for (const s of services) await copyTree(s.dir, path.join(palm, 'services', s.id), new Set());
    const pkgInfo: Record<string, unknown> = { id: app.id, version: app.version, app: app.id };
    if (services.length) pkgInfo.services = services.map((s) => s.id);
    await fsp.mkdir(path.join(palm, 'packages', app.id), { recursive: true });
    await fsp.writeFile(path.join(palm, 'packages', app.id, 'packageinfo.json'), JSON.stringify(pkgInfo, null, 2) + '\n');
    await fsp.chmod(data, 0o755);
    const installedSize = await normaliseTree(data);

    const dataTgz = path.join(tmp, 'data.tar.gz');
    await tgz(data, ['usr'], dataTgz);

    const ctrl = path.join(tmp, 'ctrl');
    await fsp.mkdir(ctrl);
    await fsp.writeFile(path.join(ctrl, 'control'), formatControl(controlFieldsFor(app.id, app.version, installedSize)), { mode: 0o644 });
    const ctrlEntries = ['control'];
    if (opts.signKey && opts.certificate) {
      let key: crypto.KeyObject;
      let certText: string;
      try {
        key = crypto.createPrivateKey(await fsp.readFile(opts.signKey));
        certText = await fsp.readFile(opts.certificate, 'utf8');
        new crypto.X509Certificate(certText);
      } catch (e) {
        throw new PackError(`cannot use --sign ${opts.signKey} / --certificate ${opts.certificate}: ${(e as Error).message}`);
      }
      const signature = crypto.sign('sha256', await fsp.readFile(dataTgz), key).toString('base64');
      const certName = path.basename(opts.certificate);
      await fsp.writeFile(path.join(ctrl, certName), certText, { mode: 0o644 });
      await fsp.writeFile(path.join(ctrl, SIGNATURE_FILE), signature, { mode: 0o644 });
      ctrlEntries.push(certName, SIGNATURE_FILE);
    }
    const ctrlTgz = path.join(tmp, 'control.tar.gz');
    await tgz(ctrl, ctrlEntries, ctrlTgz);

    const file = path.join(outDir, `${app.id}_${app.version}_all.ipk`);
    const partial = path.join(outDir, `.${path.basename(file)}.${process.pid}.partial`);
    await fsp.writeFile(path.join(tmp, 'debian-binary'), '2.0\n');
    await writeArFile(partial, [
      { name: 'debian-binary', data: Buffer.from('2.0\n') },
      { name: 'control.tar.gz', file: ctrlTgz },
      { name: 'data.tar.gz', file: dataTgz },
    ]);
    await fsp.rename(partial, file);
    return { file, packageName: app.id, version: app.version, installedSize, services: services.map((s) => s.id) };
  } finally {
    await fsp.rm(tmp, { recursive: true, force: true });
  }
}
