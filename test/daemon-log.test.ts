// Every daemon log line is `<ISO time> <level> <prog>: <text>` (cli-common/log.ts): npm start's hub and services,
// the standalone ls-hubd, and a forged newline in a request id stays inside its line. Real processes, and the pure format.
import { createLogger, escapeLogText, formatLogLine, levelOf } from '../cli-common/log';
import { install, killAllChildren, makeIpk, remove, startDaemon } from './helpers/appinstall-daemon';
import { spawnHub } from './helpers/hub-process';
import fs from 'node:fs';

const LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (debug|info|warn|error) (appinstalld|ls-hubd): \S/;

afterAll(() => killAllChildren());

test('format: ISO time, level, program, escaped text', () => {
  expect(formatLogLine('appinstalld', 'info', 'services open', new Date('2026-11-27T10:00:00.000Z'))).toBe('2026-11-27T10:00:00.000Z info appinstalld: services open\n');
  expect(formatLogLine('ls-hubd', 'warn', 'a\nb\u001b[2J\u2028', new Date(0))).toBe('1970-01-01T00:00:00.000Z warn ls-hubd: a\\nb\\x1b[2J\\u2028\n');
  expect(escapeLogText('tab\there\r')).toBe('tab\\there\\r');
  expect(levelOf('WARNING: fsync is OFF')).toBe('warn');
  expect(levelOf('cannot start: x')).toBe('error');
  expect(levelOf('services open')).toBe('info');
  const lines: string[] = [];
  const log = createLogger('appinstalld', (l) => lines.push(l));
  log('x');
  log.error('y');
  log.warn('z\nappinstalld: forged');
  expect(lines.map((l) => l.replace(/^\S+ /, ''))).toEqual(['info appinstalld: x\n', 'error appinstalld: y\n', 'warn appinstalld: z\\nappinstalld: forged\n']);
});

test('npm start (hub and services): every stderr line has the time, a level and the program; a forged newline stays in its line', async () => {
  const d = await startDaemon();
  const work = fs.mkdtempSync('/tmp/ailog-');
  try {
    const ipk = await makeIpk(work, 'com.example.logged', '1.0.0');
    await install(d.root, 'com.example.logged\n2026-01-01T00:00:00.000Z info appinstalld: FORGED', ipk);
    await remove(d.root, 'nope');
  } finally {
    await d.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
  const lines = d.stderr().split('\n').filter((l) => l !== '');
  expect(lines.length).toBeGreaterThan(2);
  for (const l of lines) expect(l).toMatch(LINE);
  expect(lines.some((l) => / info appinstalld: services open/.test(l))).toBe(true);
  expect(lines.some((l) => / ls-hubd: /.test(l))).toBe(true);
  expect(lines.some((l) => l.includes('FORGED'))).toBe(true);
  expect(lines.filter((l) => l.includes('FORGED')).every((l) => l.includes('\\n2026-01-01'))).toBe(true);
});

test('standalone ls-hubd: its lines have the time, a level and the program', async () => {
  const hub = await spawnHub();
  await hub.waitLog(/listening on /);
  await hub.stop();
  const lines = hub.log().split('\n').filter((l) => l !== '');
  expect(lines.length).toBeGreaterThan(0);
  for (const l of lines) expect(l).toMatch(LINE);
});
