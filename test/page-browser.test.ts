// The App Store page (docs/gateway.md, gateway/page/) in a real headless Chromium against `npm start`'s gateway: sign in with
// the token, refresh, live progress pushed to a card until installed, a task's log followed while it runs, Retry after
// a failure served on purpose, Uninstall; screenshots go to test/artifacts/ (printed). Install by name from an
// nginx-served feed runs when the catalog is on the bus (/catalog/list); until then the same flow goes through the
// page's "install from a file" path (AX install_local_file).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { call, killAllChildren, makeIpk } from './helpers/appinstall-daemon';
import { READER, READER_FILES, startGatewayDaemon, type GatewayDaemon } from './helpers/gateway';
import { PageText } from '../status-codes/peer-errors';
import { launchChromium } from './helpers/chromium';
import { startNginx, type LocalNginx } from './helpers/nginx';
import { writeConf, writeFeed } from './helpers/opkg-feed';
import { firmwareIpk } from './helpers/firmware-ipk';

// Browser globals inside page.evaluate/waitForFunction callbacks (this file is type-checked without the DOM lib).
declare const document: any;
declare const sessionStorage: any;
declare function getComputedStyle(e: unknown): any;
declare const window: any;
declare const MutationObserver: any;

const ARTIFACTS = path.join(__dirname, 'artifacts');
let g: GatewayDaemon;
let chrome: { context: BrowserContext; close(): Promise<void> };
let page: Page;
let dir: string;
const shots: string[] = [];
const READER_TOKEN = 'page-reader-0123456789abcd';
const requests: string[] = [];

jest.setTimeout(180_000);

beforeAll(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  g = await startGatewayDaemon({ files: READER_FILES, tokens: { [READER_TOKEN]: READER } });
  dir = fs.mkdtempSync('/tmp/pgb-');
  fs.chmodSync(dir, 0o755);
  chrome = await launchChromium();
  page = chrome.context.pages()[0] ?? await chrome.context.newPage();
  page.on('request', (r) => requests.push(r.url()));
});
afterAll(async () => {
  await chrome?.close();
  await g?.d.stop();
  killAllChildren();
  if (shots.length) console.log(`page screenshots:\n${shots.join('\n')}`);
});

async function shot(name: string, fullPage = true): Promise<void> {
  const file = path.join(ARTIFACTS, `page-${name}.png`);
  await page.screenshot({ path: file, fullPage });
  shots.push(file);
}
/** Waits until the element's text matches (the page updates asynchronously). */
async function waitText(sel: string, re: RegExp): Promise<void> {
  await page.waitForFunction(([s, src, flags]) => new RegExp(src, flags).test(document.querySelector(s)?.textContent ?? ''), [sel, re.source, re.flags] as const, { timeout: 30_000 });
}
const card = (name: string) => page.locator(`#apps .app[data-name="${name}"]`);

test('served with a strict CSP and no inline script; a wrong token is refused in words', async () => {
  const r = await fetch(`${g.base}/`);
  expect(r.status).toBe(200);
  const csp = r.headers.get('content-security-policy')!;
  expect(csp).toContain("default-src 'none'");
  expect(csp).toContain("script-src 'self'");
  expect(csp).not.toContain('unsafe-inline');
  const html = await r.text();
  expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
  expect((await fetch(`${g.base}/page/app.js`)).headers.get('content-type')).toMatch(/^text\/javascript/);
  expect((await fetch(`${g.base}/app_store/events`)).status).toBe(401);
  // Events show every operation: a token that may not watch them (may not call /status) is refused, in words.
  const ro = await fetch(`${g.base}/app_store/events`, { headers: { Secret: READER_TOKEN } });
  expect(ro.status).toBe(403);
  expect(await ro.json()).toEqual({ detail: PageText.EVENTS_DENIED });

  await page.goto(`${g.base}/`);
  await page.locator('#token').fill('not-the-token-000000');
  await page.locator('#signin-button').click();
  await waitText('#error-text', /token was not accepted/);
});

test('sign in, refresh, GET-equivalent install with a pushed progress bar to Installed, log followed while running, Retry, Uninstall', async () => {
  if (!page.url().startsWith(g.base)) await page.goto(`${g.base}/`);
  // Sign in with the keyboard: focus is in the token field, Enter submits.
  await page.locator('#token').fill(g.token);
  await page.keyboard.press('Enter');
  await page.locator('#store').waitFor({ state: 'visible' });
  expect(await page.evaluate(() => sessionStorage.getItem('appstore.token'))).toBe(g.token);
  await page.waitForFunction(() => document.getElementById('conn')!.textContent === 'Live');

  // Refresh: with the feeds on the bus it refreshes them; without, the error says so in words.
  await page.locator('#refresh').click();
  await page.waitForFunction(() => !(document.getElementById('refresh') as any).disabled);
  await shot('1-signed-in');

  // A small app installed first from a file, so the store lists more than one card.
  const clock = await makeIpk(dir, 'com.example.clock', '2.0.1');
  await page.locator('#file-path').fill(clock);
  await page.locator('#file-install').click();
  await page.waitForFunction(() => document.querySelector('#apps .app[data-name="com.example.clock"]')?.getAttribute('data-status') === 'up_to_date', undefined, { timeout: 30_000 });

  // A big package so that the install takes long enough to watch (progress and a running log).
  const good = await makeIpk(dir, 'com.example.weather', '1.4.0', { files: { 'big.bin': crypto.randomBytes(24_000_000).toString('base64') } });
  const target = path.join(dir, 'com.example.weather_1.4.0_all.ipk');
  // A failure served on purpose: the file is a truncated package.
  fs.writeFileSync(target, fs.readFileSync(good).subarray(0, 4000));
  await page.locator('#file-path').fill(target);
  await page.locator('#file-install').click();
  await waitText('#error-text', /Could not install com\.example\.weather_1\.4\.0_all\.ipk\.|failed/);
  await card('com.example.weather').waitFor();
  await page.waitForFunction(() => document.querySelector('#apps .app[data-name="com.example.weather"]')?.getAttribute('data-status') === 'install_failed');
  expect((await card('com.example.weather').locator('.reason').textContent())?.length).toBeGreaterThan(3);
  await shot('2-install-failed');

  // Retry with the real package in place: the bar is pushed forward (no reload), and the log follows while it runs.
  fs.copyFileSync(good, target);
  const listCalls = () => requests.filter((u) => u.endsWith('/app_store/packages')).length;
  const before = listCalls();
  // Every width the bar is drawn at, seen by the page itself (a poll from here can miss a fast install's steps while
  // it takes a screenshot).
  await page.evaluate(() => {
    const seen: string[] = [];
    window.weatherWidths = seen;
    const read = () => {
      const w: string | undefined = document.querySelector('#apps .app[data-name="com.example.weather"] .progress > span')?.style.width;
      if (w && !seen.includes(w)) seen.push(w);
    };
    new MutationObserver(read).observe(document.getElementById('apps'), { subtree: true, childList: true, attributes: true, attributeFilter: ['style'] });
  });
  await card('com.example.weather').getByRole('button', { name: 'Retry com.example.weather' }).click();
  const widths = new Set<string>();
  let sawRunningLog = false;
  const statuses: string[] = [];
  for (const end = Date.now() + 90_000; Date.now() < end; ) {
    // Short waits: while the page redraws its list the card may be gone for a moment (a locator would wait 30 s).
    const st = await card('com.example.weather').getAttribute('data-status', { timeout: 1000 }).catch(() => null);
    if (statuses[statuses.length - 1] !== st) statuses.push(String(st));
    const w = await page.locator('#apps .app[data-name="com.example.weather"] .progress > span').evaluate((e) => (e as any).style.width, undefined, { timeout: 1000 }).catch(() => null);
    if (w) widths.add(w);
    if (st === 'installing' && !sawRunningLog) {
      const running = page.locator('#tasks li', { hasText: 'Running' }).locator('button[data-task]');
      if (await running.count()) {
        await running.first().click();
        await page.waitForFunction(() => document.getElementById('log-state').textContent !== 'Loading…');
        if (await page.locator('#log-state').textContent() === 'Following…') {
          sawRunningLog = true;
          await shot('3b-log-following', false);
          await page.locator('#apps-title').scrollIntoViewIfNeeded();
          await shot('3-installing', false);
        }
      }
    }
    if (st === 'up_to_date') break;
    await page.waitForTimeout(25);
  }
  expect({ status: await card('com.example.weather').getAttribute('data-status'), seen: statuses }).toMatchObject({ status: 'up_to_date' });
  expect(await card('com.example.weather').locator('[data-role=status]').textContent()).toBe('Installed');
  for (const w of (await page.evaluate(() => window.weatherWidths)) as string[]) widths.add(w);
  expect(widths.size).toBeGreaterThanOrEqual(2); // the bar moved
  expect(sawRunningLog).toBe(true);
  // Progress came pushed: the list was not fetched once per progress step.
  expect(listCalls() - before).toBeLessThan(widths.size + 4);
  // The open log finishes with the whole text of the task, as the AX API has it.
  await page.waitForFunction(() => document.getElementById('log-state')!.textContent!.startsWith('Complete'));
  const logText = await page.locator('#log-text').textContent();
  expect(logText).toMatch(/install task com\.example\.weather\(1\.4\.0\) begin/);
  expect((await call(g.root, 'luna://com.webos.applicationManager/listApps', {})).apps.map((a: any) => a.id)).toContain('com.example.weather');
  await shot('4-installed');

  // Uninstall from the card.
  await card('com.example.weather').getByRole('button', { name: 'Uninstall com.example.weather' }).click();
  await page.waitForFunction(() => !document.querySelector('#apps .app[data-name="com.example.weather"]'), undefined, { timeout: 30_000 });
  expect((await call(g.root, 'luna://com.webos.applicationManager/listApps', {})).apps.map((a: any) => a.id)).not.toContain('com.example.weather');
  await waitText('#tasks', /Uninstall com\.example\.weather/);
  await shot('5-uninstalled');

  // No token in any URL the page asked for.
  expect(requests.filter((u) => u.includes(g.token))).toEqual([]);
});

// The store as a person sees it: a feed served by nginx, refreshed from the page, and GET installing by name.
test('available apps from an nginx-served feed: Refresh lists them with GET, GET installs by name to Installed', async () => {
  const www = fs.mkdtempSync('/tmp/pgb-www-');
  fs.chmodSync(www, 0o755);
  const ipk = await makeIpk(dir, 'com.example.news', '3.1.0');
  fs.mkdirSync(path.join(www, 'apps'));
  fs.copyFileSync(ipk, path.join(www, 'apps', path.basename(ipk)));
  const bytes = fs.readFileSync(ipk);
  writeFeed(path.join(www, 'apps'), [{
    name: 'com.example.news', version: '3.1.0', size: bytes.length, installedSize: bytes.length, filename: path.basename(ipk),
    md5: crypto.createHash('md5').update(bytes).digest('hex'), sha256: crypto.createHash('sha256').update(bytes).digest('hex'), description: 'News',
  }]);
  // Firmware in the same feed (Section: firmware): the page's firmware section, installed in one step.
  const fw = firmwareIpk(path.join(www, 'apps'), 'bottom-sensor', '1.5.4', { 'sensor.bin': 'bottom sensor\n' });
  const fwBytes = fs.readFileSync(fw);
  writeFeed(path.join(www, 'apps'), [{
    name: 'com.example.news', version: '3.1.0', size: bytes.length, installedSize: bytes.length, filename: path.basename(ipk),
    md5: crypto.createHash('md5').update(bytes).digest('hex'), sha256: crypto.createHash('sha256').update(bytes).digest('hex'), description: 'News',
  }, {
    name: 'bottom-sensor', version: '1.5.4', section: 'firmware', size: fwBytes.length, installedSize: fwBytes.length, filename: path.basename(fw),
    md5: crypto.createHash('md5').update(fwBytes).digest('hex'), sha256: crypto.createHash('sha256').update(fwBytes).digest('hex'), description: 'Bottom sensor',
  }]);
  const nginx: LocalNginx = await startNginx({ root: www });
  try {
    writeConf(g.root, 'page.conf', [`src/gz apps ${nginx.url}/apps`]);
    await page.locator('#refresh').click();
    await card('com.example.news').waitFor({ timeout: 30_000 });
    expect(await card('com.example.news').getAttribute('data-status')).toBe('not_installed');
    await card('com.example.news').getByRole('button', { name: 'GET com.example.news' }).click();
    await page.waitForFunction(() => document.querySelector('#apps .app[data-name="com.example.news"]')?.getAttribute('data-status') === 'up_to_date', undefined, { timeout: 60_000 });
    await shot('6-feed-installed');
    const fwCard = page.locator('#firmware .app[data-name="bottom-sensor"]');
    await fwCard.waitFor({ timeout: 30_000 });
    expect(await fwCard.getAttribute('data-status')).toBe('not_installed');
    expect(await page.locator('#apps .app[data-name="bottom-sensor"]').count()).toBe(0);
    await fwCard.getByRole('button', { name: 'GET bottom-sensor' }).click();
    await page.waitForFunction(() => document.querySelector('#firmware .app[data-name="bottom-sensor"]')?.getAttribute('data-status') === 'up_to_date', undefined, { timeout: 60_000 });
    expect(await fwCard.locator('.app-version').textContent()).toBe('Version 1.5.4');
    // Its task in the task list ends Succeeded too.
    await page.waitForFunction(() => [...document.querySelectorAll('#tasks li')].some((li: any) => /Install bottom-sensor 1\.5\.4/.test(li.textContent) && /Succeeded/.test(li.textContent)), undefined, { timeout: 30_000 });
    expect(fs.readFileSync(path.join(g.root, 'lib/firmware/bottom-sensor/sensor.bin'), 'utf8')).toBe('bottom sensor\n');
    await shot('6b-firmware-installed');
  } finally {
    await nginx.stop();
  }
});

// Lock state, read through Thunder getlockinfo: a locked app says who locked it and its Uninstall is disabled.
test('lock state: a locked app shows who locked it and cannot be uninstalled from the page', async () => {
  const r = await call(g.root, 'luna://com.webos.appInstallService/lock', { id: 'com.example.clock', reason: 'kiosk mode', owner: 'page-test' });
  expect(r.returnValue).toBe(true);
  await page.locator('#refresh').click();
  await waitText('#apps .app[data-name="com.example.clock"] .chip-lock', /Locked by page-test/);
  expect(await card('com.example.clock').getByRole('button', { name: 'Uninstall com.example.clock' }).isDisabled()).toBe(true);
  await shot('7-locked');
  await call(g.root, 'luna://com.webos.appInstallService/unlock', { handle: r.handle });
});

test('keyboard: every action is a real button reachable with Tab, with a visible focus style', async () => {
  await page.keyboard.press('Tab');
  const tags = new Set<string>();
  for (let i = 0; i < 12; i++) {
    tags.add(await page.evaluate(() => document.activeElement!.tagName));
    await page.keyboard.press('Tab');
  }
  expect(tags.has('BUTTON')).toBe(true);
  const outline = await page.locator('#refresh').evaluate((e) => { (e as any).focus(); return getComputedStyle(e).outlineStyle; });
  expect(outline).not.toBe('none');
  expect(await page.locator('#announce').getAttribute('aria-live')).toBe('polite');
  expect(await page.locator('#error').getAttribute('role')).toBe('alert');
  // Escape closes an open log and puts the focus back on the task list.
  await page.locator('#tasks button[data-task]').first().click();
  await page.locator('#log').waitFor({ state: 'visible' });
  await page.keyboard.press('Escape');
  await page.locator('#log').waitFor({ state: 'hidden' });
  expect(await page.evaluate(() => document.activeElement.dataset.task)).toBeTruthy();
});
