// `ipk info`: what a package holds (control fields, its app, services, signature verdict) read without extracting:
// data.tar.gz is streamed once and only the small metadata JSON files are kept. Not the installer's checks (extract.ts).
import { createReadStream } from 'node:fs';
import { Parser, ReadEntry } from 'tar';
import { openIpk } from './ipk-reader';
import { AppInfo, PackageInfo, ServicesJson, parseJson } from './metadata';
import { SignatureVerdict, verifySignature } from './signature';
import { ControlFields } from './control';
import { CodedError, ErrorCode, ErrorText } from '../status-codes';

export interface IpkInfo {
  file: string;
  control: ControlFields;
  app?: AppInfo;
  packageInfo?: PackageInfo;
  services: Array<{ id: string; servicesJson: ServicesJson }>;
  entries: number;
  signature: SignatureVerdict;
}

const META_RE = /^(?:\.\/)?usr\/palm\/(applications|packages|services)\/([^/]+)\/(appinfo|packageinfo|services)\.json$/;

/** Read a package's description. Throws the reader's CodedError for a broken package. */
export async function describeIpk(file: string, bundlePath: string): Promise<IpkInfo> {
  const pkg = await openIpk(file);
  const jsons: Array<{ kind: string; dir: string; value: unknown }> = [];
  let entries = 0;
  await new Promise<void>((resolve, reject) => {
    const parser = new Parser({
      strict: true,
      maxDecompressionRatio: 1000,
      onReadEntry: (e: ReadEntry) => {
        entries++;
        const m = META_RE.exec(e.path);
        if (!m || e.type !== 'File' || e.size > 1024 * 1024) return void e.resume();
        const chunks: Buffer[] = [];
        e.on('data', (c: Buffer) => chunks.push(c));
        e.on('end', () => {
          const r = parseJson(`${m[3]}.json`, Buffer.concat(chunks).toString('utf8'));
          if (r.ok) jsons.push({ kind: m[1], dir: m[2], value: r.value });
        });
      },
    });
    parser.on('error', (e: Error) => reject(new CodedError(ErrorCode.INSTALL_FAILED, ErrorText.FAILED_PACKAGEFILE_CORRUPT, `data.tar.gz: ${e.message}`)));
    parser.on('close', () => resolve());
    const { offset, size } = pkg.dataMember;
    const src = createReadStream(file, { start: offset, end: offset + size - 1 });
    src.on('error', reject);
    src.pipe(parser as unknown as NodeJS.WritableStream);
  });
  const app = jsons.find((j) => j.kind === 'applications')?.value as AppInfo | undefined;
  const packageInfo = jsons.find((j) => j.kind === 'packages')?.value as PackageInfo | undefined;
  const services = jsons.filter((j) => j.kind === 'services').map((j) => ({ id: j.dir, servicesJson: j.value as ServicesJson }));
  return { file, control: pkg.control, app, packageInfo, services, entries, signature: await verifySignature(pkg, bundlePath) };
}

/** Pure: the readable table `ipk info` prints. */
export function formatInfo(i: IpkInfo): string {
  const rows: Array<[string, string]> = [['File', i.file]];
  for (const [k, v] of Object.entries(i.control.raw)) rows.push([k, v.replace(/\n/g, ' ')]);
  rows.push(['App', i.app ? `${i.app.id} ${i.app.version} (${i.app.type}) "${i.app.title}" main=${i.app.main}` : '(none)']);
  rows.push(['Services', i.services.length ? i.services.map((s) => s.id).join(', ') : '(none)']);
  rows.push(['Entries', String(i.entries)]);
  const s = i.signature;
  rows.push(['Signature', s.result + (s.signer ? ` (signer: ${s.signer})` : '') + (s.detail ? ` - ${s.detail}` : '')]);
  const w = Math.max(...rows.map(([k]) => k.length)) + 1;
  return rows.map(([k, v]) => `${(k + ':').padEnd(w + 1)}${v}`).join('\n') + '\n';
}
