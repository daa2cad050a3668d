// The `ipk` command: `ipk pack APPDIR [SERVICEDIR...] [-o OUTDIR] [--sign KEY --certificate CRT]` and
// `ipk info FILE [--json] [--bundle PEM]`. Arguments via cli-common/args.ts, printing; the work is in pack.ts / ipk-info.ts.
import { layout, resolveRoot } from '../layout/paths';
import { UsageError, parseCommandLine, versionLine } from '../cli-common/args';
import { CodedError } from '../status-codes';
import { CliText, ExitCode } from '../status-codes/cli';
import { describeIpk, formatInfo } from './ipk-info';
import { PackError, packApp } from './pack';

const USAGE = `usage:
  ipk pack APPDIR [SERVICEDIR...] [-o OUTDIR] [--sign KEY --certificate CRT]
  ipk info FILE [--json] [--bundle PEM]
  ipk -h|--help, ipk -V|--version
Exit codes: 0 done, 1 failure (a bad package, a bad app folder), 2 usage error.
`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === 'help' || cmd === undefined || cmd.startsWith('-')) {
    const { values } = parseCommandLine(argv, {}, { maxPositionals: 0 });
    if (values.version) {
      process.stdout.write(versionLine('ipk'));
      return ExitCode.OK;
    }
    if (!values.help && cmd !== 'help') throw new UsageError(CliText.noCommand);
    process.stdout.write(USAGE);
    return ExitCode.OK;
  }
  if (cmd === 'pack') {
    const { values, positionals } = parseCommandLine(rest, { outdir: { type: 'string', short: 'o' }, sign: { type: 'string' }, certificate: { type: 'string' } });
    if (values.help) return help();
    if (positionals.length < 1) throw new UsageError('pack needs an APPDIR');
    const r = await packApp(positionals[0], positionals.slice(1), { outDir: values.outdir, signKey: values.sign, certificate: values.certificate });
    process.stdout.write(`Created ${r.file}\n`);
    return ExitCode.OK;
  }
  if (cmd === 'info') {
    const { values, positionals } = parseCommandLine(rest, { bundle: { type: 'string' }, json: { type: 'boolean' } });
    if (values.help) return help();
    if (positionals.length !== 1) throw new UsageError('info needs exactly one FILE');
    const bundle = values.bundle ?? layout(resolveRoot()).trustBundle;
    const info = await describeIpk(positionals[0], bundle);
    process.stdout.write(values.json ? JSON.stringify(info, null, 2) + '\n' : formatInfo(info));
    return ExitCode.OK;
  }
  throw new UsageError(CliText.unknownCommand(cmd));
}

function help(): number {
  process.stdout.write(USAGE);
  return ExitCode.OK;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError) {
      process.stderr.write(`ipk: ${e.message}\n${USAGE}`);
      process.exit(e.exitCode);
    } else if (e instanceof PackError || e instanceof CodedError) process.stderr.write(`ipk: ${e.message}\n`);
    else process.stderr.write(`ipk: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(ExitCode.FAILURE);
  },
);
