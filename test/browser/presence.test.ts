// Signals and presence in the demo page (real Chromium): typing in one page shows "typing…" in the
// other, and each page shows who of its room is online — from a snapshot at connect, and from
// `presence` events after it. Over SSE and over long polling; a follower tab gets both by relay.
import assert from 'node:assert/strict';
import path from 'node:path';
import { PUBLIC_DIR } from '../../app/http/routes/pages.ts';
import request from 'supertest';
import type { Page } from 'playwright-core';
import { startApp, uid, type TestApp } from '../helpers/app.ts';
import { launch, send, shownTexts, transportOf, type Browser } from '../helpers/browser.ts';
import { waitFor } from '../helpers/wait.ts';

describe('browser: typing… and who is online', function () {
  this.timeout(60_000);
  let app: TestApp;
  const browsers: Browser[] = [];
  // A short presence window: a closed page goes offline within a few seconds.
  before(async () => { app = await startApp({ DEVICE_ONLINE_WINDOW_S: '2' }); });
  after(async () => { await app.close(); });
  afterEach(async () => {
    while (browsers.length) await browsers.pop()!.close();
    const r = app.service.deps.registry;
    await waitFor(() => r.streamCount + r.polls === 0, { what: 'closed browsers to leave nothing held' });
  });

  const browser = async () => {
    const b = await launch();
    browsers.push(b);
    return b;
  };
  const connected = (p: Page) => waitFor(async () => (await transportOf(p)).connected, { what: 'the page to connect' });
  const onlineOf = (p: Page, user: string) => p.locator(`#online li[data-user="${user}"]`).getAttribute('data-online', { timeout: 1000 });
  const typing = (p: Page) => p.locator('#typing').evaluate((e: HTMLElement) => (e.hidden ? '' : e.textContent ?? ''));

  /** Types into the message box until `page` shows "typing…": QoS 0 may drop one between two polls. */
  async function typeUntilShown(from: Page, page: Page, who: string): Promise<void> {
    let n = 0;
    await waitFor(async () => {
      await from.fill('#text', `draft ${n++}`);
      return (await typing(page)) === `${who} is typing…`;
    }, { what: `"${who} is typing…"` });
  }

  for (const transport of ['sse', 'poll']) {
    it(`two users in a presence group see each other online and typing (${transport})`, async () => {
      const alice = uid('alice');
      const bob = uid('bob');
      const room = uid('room');
      const url = (user: string, extra = '') => `${app.url}/?user=${user}&transport=${transport}${extra}#key=${app.tenant.adminKey}`;

      const pa = await (await browser()).open(url(alice));
      await connected(pa);
      // Alice makes the room on the page: a group that announces presence, and her recipient.
      await pa.click('#groups summary');
      await pa.fill('#group-name', room);
      await pa.fill('#group-members', `${alice}, ${bob}`);
      await pa.click('#group-form button');
      await waitFor(async () => (await pa.inputValue('#to')) === `#${room}`, { what: 'the room as the recipient' });
      const g = await request(app.url).get(`/v1/groups/${room}`).set('Authorization', `Bearer ${app.tenant.adminKey}`);
      assert.equal(g.body.presence, true);
      // Bob never connected: the snapshot says offline.
      await waitFor(async () => (await onlineOf(pa, bob)) === 'false', { what: 'bob offline on alice\'s page' });

      const bb = await browser();
      const pb = await bb.open(url(bob, `&room=${room}`));
      await connected(pb);
      assert.equal((await transportOf(pb)).transport, transport);
      // Bob's snapshot at connect shows alice; alice learns of bob by a presence event.
      await waitFor(async () => (await onlineOf(pb, alice)) === 'true', { what: 'alice online on bob\'s page' });
      await waitFor(async () => (await onlineOf(pa, bob)) === 'true', { what: 'bob online on alice\'s page (event)' });
      const pb2 = await bb.open(url(bob, `&room=${room}`));
      await waitFor(async () => (await transportOf(pb2)).transport === 'relay' && (await transportOf(pb2)).connected, { what: 'a follower tab' });

      // Typing to the group shows in both of bob's tabs (the second by relay), not on alice's page.
      await typeUntilShown(pa, pb, alice);
      await waitFor(async () => (await typing(pb2)) === `${alice} is typing…`, { what: 'typing… relayed to the follower tab' });
      assert.equal(await typing(pa), '');
      // Her message ends it at once (not after the 3 s): checked in the same task that shows the message.
      await send(pa, `#${room}`, 'hello');
      await waitFor(async () => (await shownTexts(pb)).includes('hello'), { what: 'the message' });
      assert.equal(await typing(pb), '', 'typing… cleared by the message');
      if (process.env.SCREENSHOT === '1' && transport === 'sse') {
        // The README's demo screenshot: a conversation, who is online, and someone typing.
        await send(pb, `#${room}`, 'hi alice, reading you');
        await waitFor(async () => (await shownTexts(pa)).includes('hi alice, reading you'), { what: 'the reply' });
        await typeUntilShown(pa, pb, alice);
        await pb.screenshot({ path: path.join(PUBLIC_DIR, 'screenshot-demo.png') });
      }

      // Typing to one user.
      await pb.fill('#to', alice);
      await typeUntilShown(pb, pa, bob);

      // Bob leaves: alice's page shows him offline (after the presence window).
      await browsers.splice(browsers.indexOf(bb), 1)[0]!.close();
      await waitFor(async () => (await onlineOf(pa, bob)) === 'false', { timeoutMs: 15_000, what: 'bob offline on alice\'s page' });
    });
  }
});
