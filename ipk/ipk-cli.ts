// The `ipk` command: `ipk pack APPDIR [SERVICEDIR...] [-o OUTDIR] [--sign KEY --certificate CRT]` and
// `ipk info FILE [--json] [--bundle PEM]`. Argument handling and printing only; the work is in pack.ts / ipk-info.ts.
import { layout, resolveRoot } from '../ipc/paths';
import { CodedError } from '../status-codes';
import { describeIpk, formatInfo } from './ipk-info';
import { PackError, packApp } from './pack';

const USAGE = `usage:
  ipk pack APPDIR [SERVICEDIR...] [-o OUTDIR] [--sign KEY --certificate CRT]
  ipk info FILE [--json] [--bundle PEM]
`;

class UsageError extends Error {}

/** Pure: split argv into positional arguments and the options this command knows. */
export function parseArgs(argv: string[], valued: string[], flags: string[]): { positional: string[]; opts: Record<string, string | true> } {
  const positional: string[] = [];
  const opts: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('-') && a !== '-') {
      const [name, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
      if (valued.includes(name)) {
        const v = inline ?? argv[++i];
        if (v === undefined) throw new UsageError(`${name} needs a value`);
        opts[name] = v;
      } else if (flags.includes(name) && inline === undefined) {
        opts[name] = true;
      } else {
        throw new UsageError(`unknown option ${a}`);
      }
    } else {
      positional.push(a);
    }
  }
  return { positional, opts };
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === '-h' || cmd === '--help' || cmd === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (cmd === 'pack') {
    const { positional, opts } = parseArgs(rest, ['-o', '--outdir', '--sign', '--certificate'], []);
    if (positional.length < 1) throw new UsageError('pack needs an APPDIR');
    const r = await packApp(positional[0], positional.slice(1), {
      outDir: (opts['-o'] ?? opts['--outdir']) as string | undefined,
      signKey: opts['--sign'] as string | undefined,
      certificate: opts['--certificate'] as string | undefined,
    });
    process.stdout.write(`Created ${r.file}\n`);
    return 0;
  }
  if (cmd === 'info') {
    const { positional, opts } = parseArgs(rest, ['--bundle'], ['--json']);
    if (positional.length !== 1) throw new UsageError('info needs exactly one FILE');
    const bundle = (opts['--bundle'] as string | undefined) ?? layout(resolveRoot()).trustBundle;
    const info = await describeIpk(positional[0], bundle);
    process.stdout.write(opts['--json'] ? JSON.stringify(info, null, 2) + '\n' : formatInfo(info));
    return 0;
  }
  throw new UsageError(cmd ? `unknown command "${cmd}"` : 'no command given');
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError) process.stderr.write(`ipk: ${e.message}\n${USAGE}`);
    else if (e instanceof PackError || e instanceof CodedError) process.stderr.write(`ipk: ${e.message}\n`);
    else process.stderr.write(`ipk: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(1);
  },
);
