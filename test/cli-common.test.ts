// Every CLI of the package agrees (cli-common/args.ts): -V/--version prints "PROG VERSION", -h/--help the usage on
// stdout with exit 0, an unknown option is a usage error (exit 2; luna-send keeps its documented 1). Real processes.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ExitCode } from '../status-codes/cli';
import { REPO } from './helpers/appinstall-daemon';

const VERSION = (JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
const BIN = (JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin;

// [bin, version name, exit code of a usage error, what the usage error prints]
const CLIS: Array<[string, string, number, RegExp]> = [
  ['appinstall', 'appinstall', ExitCode.USAGE, /^appinstall: unknown option --frob\nTry 'appinstall --help'/],
  ['luna-send', 'luna-send', ExitCode.FAILURE, /^luna-send: unknown option --frob\nTry 'luna-send -h' for help\.\n$/],
  ['luna-send-pub', 'luna-send-pub', ExitCode.FAILURE, /^luna-send-pub: unknown option --frob\n/],
  ['ipk', 'ipk', ExitCode.USAGE, /^ipk: unknown option --frob\nusage:/],
  ['ls-hubd', 'ls-hubd', ExitCode.USAGE, /^ls-hubd: unknown option --frob\nusage: ls-hubd/],
  ['appinstalld', 'appinstalld', ExitCode.USAGE, /^appinstalld: unknown option --frob\nusage: appinstalld/],
  ['appinstall-gateway', 'appinstall-gateway', ExitCode.USAGE, /^appinstall-gateway: unknown option --frob\nusage: appinstall-gateway/],
];

const run = (bin: string, args: string[]) => spawnSync(process.execPath, [path.join(REPO, BIN[bin]), ...args], { encoding: 'utf8', env: { ...process.env, APPINSTALLD_ROOT: '/nonexistent' } });

test('every package bin is in the table', () => {
  expect(Object.keys(BIN).sort()).toEqual(CLIS.map((c) => c[0]).sort());
});

test.each(CLIS)('%s: -V/--version, -h/--help, an unknown option', (bin, name, usageCode, usageText) => {
  for (const v of ['-V', '--version']) {
    const r = run(bin, [v]);
    expect([v, r.status, r.stdout]).toEqual([v, 0, `${name} ${VERSION}\n`]);
  }
  for (const h of ['-h', '--help']) {
    const r = run(bin, [h]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^usage:|^Usage:/i);
    expect(r.stderr).toBe('');
  }
  const bad = run(bin, bin === 'ipk' ? ['pack', '--frob'] : ['--frob']);
  expect(bad.status).toBe(usageCode);
  expect(bad.stderr).toMatch(usageText);
});
