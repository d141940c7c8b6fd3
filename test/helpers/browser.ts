// Debian's chromium driven by playwright-core: never a downloaded browser. One Browser here is one
// profile (a fresh --user-data-dir): its tabs share localStorage, as the tabs of a real browser do.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { waitFor } from './wait.ts';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  // Every tab counts as visible: the leader's lease timer must not be throttled in the test.
  '--disable-background-timer-throttling', '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows',
];

export interface Browser {
  context: BrowserContext;
  open(url: string): Promise<Page>;
  close(): Promise<void>;
}

/** Scripts run before the page's own, to play an old browser (e.g. delete window.EventSource). */
export async function launch(o: { initScript?: string } = {}): Promise<Browser> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mailslot-chromium-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 900, height: 640 },
  });
  if (o.initScript) await context.addInitScript({ content: o.initScript });
  // A page error is a test failure, not a silent console line.
  const errors: string[] = [];
  context.on('weberror', (e) => errors.push(String(e.error())));
  for (const p of context.pages()) await p.close();
  return {
    context,
    async open(url) {
      const page = await context.newPage();
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(url);
      return page;
    },
    async close() {
      await context.close().catch(() => undefined);
      await fs.rm(dir, { recursive: true, force: true });
      if (errors.length) throw new Error(`errors in the page: ${errors.join('; ')}`);
    },
  };
}

/** The seqs of the messages the demo page shows, in page order (optionally only live ones). */
export function shownSeqs(page: Page, source?: 'live' | 'history'): Promise<number[]> {
  const sel = source ? `#messages li[data-source="${source}"]` : '#messages li';
  return page.locator(sel).evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-seq'))));
}

export function shownTexts(page: Page): Promise<string[]> {
  return page.locator('#messages li .text').allTextContents();
}

export async function transportOf(page: Page): Promise<{ transport: string; via: string; connected: boolean }> {
  const el = page.locator('#state');
  return {
    transport: (await el.getAttribute('data-transport')) ?? '',
    via: (await el.getAttribute('data-via')) ?? '',
    connected: (await el.getAttribute('data-connected')) === 'true',
  };
}

/** Sends a message with the demo page's form and waits for the form to clear. */
export async function send(page: Page, to: string, text: string): Promise<void> {
  await page.fill('#to', to);
  await page.fill('#text', text);
  await page.click('#send-form button');
  await waitFor(async () => (await page.inputValue('#text')) === '', { what: 'the send form to clear' });
}
