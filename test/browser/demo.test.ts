// The demo page in Debian's chromium: two users chat, a reload resumes from the stored cursor, and
// (the README's screenshot is made by presence.test.ts: SCREENSHOT=1 writes public/screenshot-demo.png).
import assert from 'node:assert/strict';
import { startApp, uid, type TestApp } from '../helpers/app.ts';
import { launch, send, shownSeqs, shownTexts, transportOf, type Browser } from '../helpers/browser.ts';
import { waitFor } from '../helpers/wait.ts';
import { sql } from '../helpers/db.ts';

/** Strictly increasing: in order and no double. */
export function assertInOrder(seqs: number[], what: string): void {
  for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i]! > seqs[i - 1]!, `${what}: out of order or doubled: ${seqs.join(',')}`);
}

describe('browser: the demo page', function () {
  this.timeout(120_000);
  let app: TestApp;
  const browsers: Browser[] = [];
  before(async () => { app = await startApp(); });
  after(async () => { await app.close(); });
  afterEach(async () => {
    while (browsers.length) await browsers.pop()!.close();
    const r = app.service.deps.registry;
    await waitFor(() => r.streamCount + r.polls === 0, { what: 'closed browsers to leave nothing held' });
  });

  const browser = async (initScript?: string) => {
    const b = await launch({ initScript });
    browsers.push(b);
    return b;
  };
  const pageUrl = (user: string, extra = '') => `${app.url}/?user=${user}${extra}#key=${app.tenant.adminKey}`;

  it('two users in two browsers exchange messages; each page shows every message once, in order', async () => {
    // The app's tenant is fresh, so plain names are unique (and read well in the screenshot).
    const alice = 'alice';
    const bob = 'bob';
    const pa = await (await browser()).open(pageUrl(alice));
    const pb = await (await browser()).open(pageUrl(bob));
    for (const p of [pa, pb]) await waitFor(async () => (await transportOf(p)).connected, { what: 'the page to connect' });
    assert.equal((await transportOf(pa)).transport, 'sse');
    assert.equal(await pa.locator('#me').textContent(), alice);

    const lines = [
      'hi bob, are you behind the office proxy today?', 'yes, and it buffers everything',
      'this page noticed and switched to long polling if it had to', 'it says SSE · connected here',
      'then nginx behaves today', 'lunch at noon?',
    ];
    for (let i = 0; i < lines.length; i++) {
      const [to, page] = i % 2 === 0 ? [bob, pa] : [alice, pb];
      await send(page, to, lines[i]!);
    }
    // Also a server-side publish: it reaches the page like any other message.
    await app.publish({ to: [alice, bob], type: 'chat', payload: { text: 'from the system' } });
    lines.push('from the system');

    for (const p of [pa, pb]) {
      await waitFor(async () => (await shownTexts(p)).length >= lines.length, { what: 'every message on the page' });
      assert.deepEqual(await shownTexts(p), lines);
      const seqs = await shownSeqs(p);
      assert.deepEqual(seqs, seqs.map((_, i) => i + 1), 'the inbox seqs 1..n, once each, in order');
    }
    // A page marks the other user's messages as its own (right-aligned) only when it sent them.
    assert.equal(await pa.locator('#messages li.mine').count(), 3);
  });

  it('a reload mid-conversation resumes from the stored cursor: no loss, no duplicate', async () => {
    const u = uid('carol');
    const b = await browser();
    const p = await b.open(pageUrl(u));
    await waitFor(async () => (await transportOf(p)).connected, { what: 'the page to connect' });
    for (let i = 1; i <= 3; i++) await app.publish({ to: [u], payload: { text: `before ${i}` } });
    await waitFor(async () => (await shownSeqs(p)).length === 3, { what: 'three messages' });

    // Messages published while the page reloads must neither be lost nor shown twice.
    const reloading = p.reload();
    for (let i = 4; i <= 6; i++) await app.publish({ to: [u], payload: { text: `during ${i}` } });
    await reloading;
    await waitFor(async () => (await transportOf(p)).connected, { what: 'the reloaded page to connect' });
    for (let i = 7; i <= 8; i++) await app.publish({ to: [u], payload: { text: `after ${i}` } });

    await waitFor(async () => (await shownSeqs(p)).length >= 8, { what: 'all eight messages after the reload' });
    const live = await shownSeqs(p, 'live');
    const history = await shownSeqs(p, 'history');
    assert.deepEqual([...history, ...live], [1, 2, 3, 4, 5, 6, 7, 8], `history ${history} + live ${live}`);
    assertInOrder(live, 'live');
    // The client delivered nothing at or below the cursor the page had stored before the reload.
    assert.ok(live.length >= 2 && live[0]! > history[history.length - 1]!);
  });

  for (const transport of ['sse', 'poll']) {
    it(`a stored cursor older than retention resyncs from the oldest entry (${transport}: ${transport === 'sse' ? 'reset event' : '410'})`, async () => {
      const u = uid('frank');
      const b = await browser();
      let p = await b.open(pageUrl(u, `&transport=${transport}`));
      await waitFor(async () => (await transportOf(p)).connected, { what: 'the page to connect' });
      for (let i = 1; i <= 2; i++) await app.publish({ to: [u], payload: { text: `m${i}` } });
      await waitFor(async () => (await shownSeqs(p)).length === 2, { what: 'two messages' });
      await p.close(); // the browser keeps the cursor (2) in localStorage
      for (let i = 3; i <= 6; i++) await app.publish({ to: [u], payload: { text: `m${i}` } });
      // Retention moves past seq 4 (what the TTL job does): the stored cursor 2 is now too old.
      await sql('UPDATE inboxes SET floor_seq = 4 WHERE tenant_id = $1 AND user_id = $2', [app.tenant.id, u]);
      await sql('DELETE FROM inbox_entries WHERE tenant_id = $1 AND user_id = $2 AND seq <= 4', [app.tenant.id, u]);
      p = await b.open(`${app.url}/?user=${u}&transport=${transport}`);
      await waitFor(async () => (await shownSeqs(p, 'live')).length >= 2, { what: 'the retained messages' });
      await app.publish({ to: [u], payload: { text: 'm7' } });
      await waitFor(async () => (await shownSeqs(p, 'live')).length >= 3, { what: 'a new message after the resync' });
      assert.deepEqual(await shownSeqs(p, 'live'), [5, 6, 7]);
      assert.equal((await transportOf(p)).transport, transport);
    });
  }

  it('an old browser without EventSource, BroadcastChannel, fetch and Promise polls and gets everything in order', async () => {
    const old = 'delete window.EventSource; delete window.BroadcastChannel; delete window.fetch; delete window.Promise;';
    const u = uid('dave');
    const b = await browser(old);
    const p = await b.open(pageUrl(u));
    await waitFor(async () => (await transportOf(p)).connected, { what: 'the page to connect' });
    assert.equal((await transportOf(p)).transport, 'poll');
    for (let i = 1; i <= 5; i++) await app.publish({ to: [u], payload: { text: `m${i}` } });
    await send(p, u, 'to myself');
    await waitFor(async () => (await shownSeqs(p)).length >= 6, { what: 'six messages' });
    assert.deepEqual(await shownSeqs(p), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(await shownTexts(p), ['m1', 'm2', 'm3', 'm4', 'm5', 'to myself']);
  });
});

describe('browser: streams recycled by the server', function () {
  this.timeout(120_000);
  let app: TestApp;
  let b: Browser | null = null;
  // Streams end after about 2 s: the page must reconnect again and again without loss or double.
  before(async () => { app = await startApp({ STREAM_MAX_LIFETIME_S: '2' }); });
  after(async () => { await app.close(); });
  afterEach(async () => { if (b) await b.close(); b = null; });

  it('the page reconnects from its cursor each time a stream reaches its lifetime', async () => {
    const u = uid('erin');
    b = await launch();
    const p = await b.open(`${app.url}/?user=${u}#key=${app.tenant.adminKey}`);
    const connects = async () => Number(await p.locator('#state').getAttribute('data-connects'));
    let n = 0;
    for (let round = 1; round <= 3; round++) {
      await waitFor(async () => (await connects()) >= round, { timeoutMs: 20_000, what: `connection ${round}` });
      for (let i = 0; i < 3; i++) await app.publish({ to: [u], payload: { text: `r${round} m${i}` } });
      n += 3;
      await waitFor(async () => (await shownSeqs(p)).length >= n, { timeoutMs: 20_000, what: `${n} messages` });
    }
    assert.deepEqual(await shownSeqs(p), Array.from({ length: n }, (_, i) => i + 1));
    assert.equal((await transportOf(p)).transport, 'sse', 'a stream that ends normally is no reason to poll');
  });
});
