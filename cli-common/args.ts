// The one argument parser of every CLI of the package (appinstall, luna-send, ipk, ls-hubd, appinstalld): node's
// util.parseArgs, the shared --help/-h and --version/-V, usage errors as UsageError (exit 2), the package version.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs as nodeParseArgs, type ParseArgsConfig } from 'node:util';
import { CliText, ExitCode } from '../status-codes/cli';

type Options = NonNullable<ParseArgsConfig['options']>;
export type Token = NonNullable<ReturnType<typeof nodeParseArgs>['tokens']>[number];

/** --help/-h and --version/-V: the same on every CLI. */
export const COMMON_OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
} as const satisfies Options;

/** A command line that cannot be run: the message goes to stderr with a pointer to --help; exit ExitCode.USAGE. */
export class UsageError extends Error {
  constructor(message: string, readonly exitCode: number = ExitCode.USAGE) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * Tokens of argv (util.parseArgs with tokens, not strict): for CLIs whose messages are their own (luna-send keeps
 * getopt's). Short clusters (-fl), attached values (-n1, --root=D), "--" and options after arguments all work.
 */
export function tokenize(argv: readonly string[], options: Options): Token[] {
  return nodeParseArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true }).tokens ?? [];
}

/** Values and positionals for `options` plus COMMON_OPTIONS; any unknown option, missing or unwanted value is a UsageError. */
export function parseCommandLine<O extends Options>(argv: readonly string[], options: O, opts: { maxPositionals?: number } = {}) {
  const all = { ...COMMON_OPTIONS, ...options };
  const tokens = tokenize(argv, all);
  for (const t of tokens) {
    if (t.kind !== 'option') continue;
    const spec = (all as Options)[t.name];
    if (!spec) throw new UsageError(CliText.unknownOption(t.rawName));
    if (spec.type === 'string' && t.value === undefined) throw new UsageError(CliText.needsValue(t.rawName));
    if (spec.type === 'boolean' && t.value !== undefined) throw new UsageError(CliText.takesNoValue(t.rawName));
  }
  // Values from the tokens (not a second, strict pass): a value may start with "-" (--reserved-connections -1), as getopt.
  const values: Record<string, string | boolean | (string | boolean)[]> = {};
  const positionals: string[] = [];
  for (const t of tokens) {
    if (t.kind === 'positional') positionals.push(t.value);
    else if (t.kind === 'option') {
      const spec = (all as Options)[t.name];
      const value = spec.type === 'string' ? t.value! : true;
      if (spec.multiple) ((values[t.name] ??= []) as (string | boolean)[]).push(value);
      else values[t.name] = value;
    }
  }
  if (opts.maxPositionals !== undefined && positionals.length > opts.maxPositionals) {
    throw new UsageError(CliText.unexpectedArgument(positionals[opts.maxPositionals]));
  }
  return { values: values as ReturnType<typeof nodeParseArgs<{ options: typeof all; allowPositionals: true }>>['values'], positionals };
}

/** A whole number of at least `min` from an option's text, else a UsageError naming the option. */
export function integerOption(raw: string, text: string, min: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min) throw new UsageError(CliText.notInteger(raw, text, min));
  return n;
}

let cachedVersion: string | undefined;
/** The package's version (package.json next to dist/ or the sources). */
export function packageVersion(): string {
  if (cachedVersion) return cachedVersion;
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    try {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'appinstalld' && pkg.version) return (cachedVersion = pkg.version);
    } catch { /* not here: look higher */ }
    if (path.dirname(dir) === dir) return (cachedVersion = 'unknown');
  }
}

/** `PROG VERSION` as printed by --version. */
export function versionLine(prog: string): string {
  return `${prog} ${packageVersion()}\n`;
}

/** Prints a usage error the shared way: `PROG: message` and the pointer to --help. */
export function printUsageError(prog: string, e: UsageError): void {
  process.stderr.write(`${prog}: ${e.message}\n${CliText.tryHelp(prog)}\n`);
}
