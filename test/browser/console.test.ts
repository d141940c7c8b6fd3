// The operations console in a real browser (Debian's chromium through playwright-core): sign in
// with an admin key, watch the live figures move after a publish, trace the message, list the
// user's devices, retry and discard dead letters. MAILSLOT_SCREENSHOTS=1 refreshes the
// screenshot the README shows (public/console.png); otherwise it goes to a temporary folder.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startApp, uid, type TestApp } from '../helpers/app.ts';
import { sql } from '../helpers/db.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

describe('operations console (browser)', function () {
  this.timeout(120_000);
  let app: TestApp;
  let profile: string;
  let ctx: BrowserContext;
  let page: Page;

  before(async () => {
    app = await startApp();
    profile = await fs.mkdtemp(path.join(os.tmpdir(), 'mailslot-chromium-'));
    ctx = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1280, height: 1100 } });
    page = ctx.pages()[0] ?? (await ctx.newPage());
  });
  after(async () => {
    await ctx?.close();
    if (profile) await fs.rm(profile, { recursive: true, force: true });
    await app?.close();
  });

  const text = (sel: string) => page.locator(sel).innerText();

  it('refuses a wrong key, then signs in with an admin key', async () => {
    await page.goto(`${app.url}/console.html`);
    await page.fill('#key', app.tenant.publishKey);
    await page.click('#signin-form button');
    await page.locator('#signin-error').filter({ hasText: /admin/ }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('mailslot.adminKey')), null);

    await page.fill('#key', app.tenant.adminKey);
    await page.click('#signin-form button');
    await page.locator('#app').waitFor({ state: 'visible' });
    assert.equal(await page.evaluate(() => sessionStorage.getItem('mailslot.adminKey')), app.tenant.adminKey);
    assert.equal(await page.evaluate(() => localStorage.length), 0, 'nothing persisted beyond the tab');
  });

  it('shows the figures change after a publish, and a held poll by transport', async () => {
    await page.locator('#published-total').filter({ hasText: /^\d+$/ }).waitFor();
    const before = Number(await text('#published-total'));
    const user = uid('con');
    const token = await app.token(user, { device: 'browser-test' });
    const held = app.http.get('/v1/poll?since=0&timeout=30').set('Authorization', `Bearer ${token}`).then((r) => r);
    await page.locator('#held-poll').filter({ hasText: /^[1-9]/ }).waitFor();
    const sent = await app.publish({ to: [user], payload: { hello: 'console' } });
    assert.equal((await held).body.messages[0].id, sent.id);
    await page.locator('#published-total').filter({ hasText: String(before + 1) }).waitFor();
    await page.locator('#delivered-total').filter({ hasText: /^[1-9]/ }).waitFor();
    await page.locator('#oldest-unacked').filter({ hasText: /s|ms|min|h|none/ }).waitFor();

    // Trace the message by id: the device got it by long poll; the poll did not acknowledge it.
    await app.service.deps.ops.deliveries!.flush();
    await page.fill('#trace-id', sent.id);
    await page.click('#trace-form button');
    const row = page.locator('#trace-table tbody tr').filter({ hasText: user });
    await row.waitFor();
    const cells = await row.locator('td').allInnerTexts();
    assert.equal(cells[0], user);
    assert.equal(cells[1], '1');
    assert.equal(cells[3], 'browser-test');
    assert.match(cells[4]!, /via poll/);
    assert.equal(cells[5], 'no');

    // The user's devices.
    await page.fill('#devices-user', user);
    await page.click('#devices-form button');
    const dev = page.locator('#devices-out tbody tr').filter({ hasText: 'browser-test' });
    await dev.waitFor();
    assert.equal((await dev.locator('td').allInnerTexts())[5], 'yes');

    await page.locator('#dead-out table, #dead-empty').first().waitFor();

    const shot = process.env.MAILSLOT_SCREENSHOTS ? path.resolve('public/console.png') : path.join(os.tmpdir(), `mailslot-console-${process.pid}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok((await fs.stat(shot)).size > 10_000);
    if (!process.env.MAILSLOT_SCREENSHOTS) await fs.rm(shot);
  });

  it('retries and discards dead letters', async () => {
    // Two devices whose unacknowledged ranges ran out of re-offers: the rows the compensation scan writes.
    const user = uid('dl');
    for (let i = 0; i < 3; i++) await app.publish({ to: [user], payload: { i } });
    for (const device of ['tv', 'watch']) {
      const t = await app.token(user, { device });
      await app.http.get('/v1/poll?timeout=0').set('Authorization', `Bearer ${t}`).expect(200);
    }
    const rows = await sql<{ id: string; device_id: string }>(
      `INSERT INTO dead_letters (tenant_id, user_id, device_id, from_seq, to_seq, attempts, reason)
       VALUES ($1, $2, 'tv', 1, 3, 5, 'ack_timeout'), ($1, $2, 'watch', 1, 3, 5, 'ack_timeout') RETURNING id::text, device_id`, [app.tenant.id, user]);
    const tv = rows.find((r) => r.device_id === 'tv')!.id;
    const watch = rows.find((r) => r.device_id === 'watch')!.id;
    await page.reload();
    await page.locator(`[data-retry="${tv}"]`).click();
    await page.locator(`[data-retry="${tv}"]`).waitFor({ state: 'detached' });
    await page.locator(`[data-discard="${watch}"]`).click();
    await page.locator(`[data-discard="${watch}"]`).waitFor({ state: 'detached' });
    const states = await sql<{ id: string; state: string }>('SELECT id::text, state FROM dead_letters WHERE id = ANY($1::bigint[]) ORDER BY id', [[tv, watch]]);
    assert.deepEqual(Object.fromEntries(states.map((r) => [r.id, r.state])), { [tv]: 'retried', [watch]: 'discarded' });
    const cursors = await sql<{ device_id: string; acked_seq: number }>('SELECT device_id, acked_seq::int FROM devices WHERE tenant_id = $1 AND user_id = $2 ORDER BY device_id', [app.tenant.id, user]);
    assert.deepEqual(cursors.map((c) => [c.device_id, c.acked_seq]), [['tv', 0], ['watch', 3]], 'discard acknowledged the range away; retry did not');
  });

  it('sign out forgets the key', async () => {
    await page.click('#sign-out');
    await page.locator('#signin').waitFor({ state: 'visible' });
    assert.equal(await page.evaluate(() => sessionStorage.getItem('mailslot.adminKey')), null);
  });
});
