// One connection per browser: tabs elect a leader that holds the stream (or poll) and relays to
// the others; closing the leader hands over without loss. Behind an HTTP/1.1 proxy a browser opens
// about six connections per host, so eight tabs each holding a stream would starve the page.
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { startApp, uid, type TestApp } from '../helpers/app.ts';
import { launch, shownSeqs, transportOf, type Browser } from '../helpers/browser.ts';
import { waitFor } from '../helpers/wait.ts';

describe('browser: tabs share one connection', function () {
  this.timeout(180_000);
  let app: TestApp;
  let b: Browser | null = null;
  before(async () => { app = await startApp(); });
  after(async () => { await app.close(); });
  const held = () => app.service.deps.registry.streamCount + app.service.deps.registry.polls;
  afterEach(async () => {
    if (b) await b.close();
    b = null;
    await waitFor(() => held() === 0, { what: 'the closed browser to leave nothing held' });
  });

  async function leaderOf(pages: Page[]): Promise<Page> {
    return waitFor(async () => {
      const leaders: Page[] = [];
      for (const p of pages) {
        const t = await transportOf(p);
        if (t.transport !== 'relay' && t.connected) leaders.push(p);
      }
      return leaders.length === 1 ? leaders[0] : null;
    }, { what: 'exactly one leader tab' });
  }

  async function everyTabShows(pages: Page[], n: number): Promise<void> {
    for (const p of pages) {
      await waitFor(async () => (await shownSeqs(p)).length >= n, { timeoutMs: 20_000, what: `${n} messages in every tab` });
      const seqs = await shownSeqs(p);
      assert.deepEqual(seqs, Array.from({ length: n }, (_, i) => i + 1), 'every message once, in order');
    }
  }

  for (const variant of [
    { name: 'BroadcastChannel', tabs: 8, init: undefined },
    { name: 'localStorage events (no BroadcastChannel)', tabs: 4, init: 'delete window.BroadcastChannel;' },
  ]) {
    it(`${variant.tabs} tabs of one user over ${variant.name}: every tab shows every message, one connection, hand-over without loss`, async () => {
      const u = uid('tabs');
      b = await launch({ initScript: variant.init });
      // The first tab mints the token; the others find it in localStorage, as a user's new tabs do.
      const pages = [await b.open(`${app.url}/?user=${u}#key=${app.tenant.adminKey}`)];
      await waitFor(async () => (await transportOf(pages[0]!)).connected, { what: 'the first tab to connect' });
      for (let i = 1; i < variant.tabs; i++) pages.push(await b.open(`${app.url}/?user=${u}`));
      for (const p of pages) await waitFor(async () => (await transportOf(p)).connected, { what: 'every tab connected' });

      let leader = await leaderOf(pages);
      await waitFor(() => held() === 1, { what: 'one held connection on the server' });
      for (let i = 1; i <= 5; i++) await app.publish({ to: [u], payload: { text: `m${i}` } });
      await everyTabShows(pages, 5);
      assert.equal(held(), 1, 'still one connection for the whole browser');

      // Close the leader while messages keep coming: another tab takes over and nothing is lost.
      const closing = leader.close();
      pages.splice(pages.indexOf(leader), 1);
      for (let i = 6; i <= 10; i++) await app.publish({ to: [u], payload: { text: `m${i}` } });
      await closing;
      leader = await leaderOf(pages);
      for (let i = 11; i <= 12; i++) await app.publish({ to: [u], payload: { text: `m${i}` } });
      await everyTabShows(pages, 12);
      await waitFor(() => held() === 1, { what: 'one held connection after the hand-over' });
      assert.notEqual((await transportOf(leader)).transport, 'relay');
    });
  }
});
