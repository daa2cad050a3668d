// A real headless Chromium for page tests: Debian's `chromium` (installed with apt-get when missing, so a fresh
// machine works), driven by playwright-core with a fresh profile directory.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { ensureTool } from '../../bench/debian-tool';

export const CHROMIUM = '/usr/bin/chromium';

/** Debian's chromium, installed when missing (bench/debian-tool.ts, the one installer of system packages). */
export function ensureChromium(): string {
  return ensureTool([CHROMIUM], ['chromium']);
}

/** A browser with a fresh --user-data-dir (playwright passes it for a persistent context). */
export async function launchChromium(viewport = { width: 1366, height: 900 }): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const exe = ensureChromium();
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'chromium-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: exe,
    headless: true,
    viewport,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  return {
    context,
    async close() {
      await context.close().catch(() => undefined);
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}
