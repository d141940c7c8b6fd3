// Polls resuming from a settled answer (app/delivery/resumes.ts): they wait without a start
// statement, yet see everything the statement would have shown — a commit made between the
// answer and the next poll, a read marker moved meanwhile — and their `since` is acknowledged
// before they answer.
import assert from 'node:assert/strict';
import { startApp, uid, type TestApp } from '../helpers/app.ts';
import { parsePrometheus, sumOf } from '../helpers/prometheus.ts';

describe('polls resuming from a settled answer', () => {
  let app: TestApp;
  // Safety tick at its maximum: a prompt answer comes from the wake-up path, not the tick.
  before(async () => { app = await startApp({ SAFETY_TICK_S: '59' }); });
  after(() => app.close());

  const auth = (t: string) => `Bearer ${t}`;
  async function starts(): Promise<{ resumed: number; statement: number }> {
    const fams = parsePrometheus((await app.http.get('/metrics')).text);
    const n = (start: string) => sumOf(fams, 'mailslot_poll_starts_total', { start }, 'mailslot_poll_starts_total');
    return { resumed: n('resumed'), statement: n('statement') };
  }
  async function delta<T>(fn: () => Promise<T>): Promise<{ out: T; resumed: number; statement: number }> {
    const a = await starts();
    const out = await fn();
    const b = await starts();
    return { out, resumed: b.resumed - a.resumed, statement: b.statement - a.statement };
  }

  it('the next poll waits without a start statement, and answers with its since acknowledged', async () => {
    const user = uid();
    const t = await app.token(user, { device: 'd1' });
    await app.publish({ to: [user], payload: { n: 1 } });
    const first = await delta(() => app.http.get('/v1/poll?since=0&timeout=5').set('Authorization', auth(t)));
    assert.equal(first.out.body.next, 1);
    assert.equal(first.statement, 1);
    const second = await delta(() => app.http.get('/v1/poll?since=1&timeout=1').set('Authorization', auth(t)));
    assert.deepEqual([second.out.status, second.out.body.messages, second.out.body.next], [200, [], 1]);
    assert.deepEqual([second.resumed, second.statement], [1, 0]);
    const devices = await app.http.get('/v1/devices').set('Authorization', auth(t));
    assert.equal(devices.body.devices.find((d: { device: string }) => d.device === 'd1').cursor, 1, 'acknowledged before the answer');
    // A held resumed poll is answered by a publish, through the usual wake-up.
    const held = app.http.get('/v1/poll?since=1&timeout=20').set('Authorization', auth(t)).then((r) => r);
    await new Promise((r) => setTimeout(r, 200));
    await app.publish({ to: [user], payload: { n: 2 } });
    const r = await held;
    assert.deepEqual(r.body.messages.map((m: { seq: number }) => m.seq), [2]);
  });

  it('a commit between the answer and the next poll is answered at once, by a start statement', async () => {
    const user = uid();
    const t = await app.token(user, { device: 'd1' });
    const empty = await app.http.get('/v1/poll?since=0&timeout=1').set('Authorization', auth(t));
    assert.deepEqual(empty.body.messages, []);
    // Committed here: this process hands the commit to its watches before the 201 is sent.
    await app.publish({ to: [user], payload: { n: 1 } });
    const t0 = Date.now();
    const next = await delta(() => app.http.get('/v1/poll?since=0&timeout=20').set('Authorization', auth(t)));
    assert.deepEqual(next.out.body.messages.map((m: { seq: number }) => m.seq), [1]);
    assert.ok(Date.now() - t0 < 10_000, 'answered at once, not at the timeout');
    assert.deepEqual([next.resumed, next.statement], [0, 1]);
  });

  it('another cursor, or no settled answer before, starts as usual', async () => {
    const user = uid();
    const t = await app.token(user, { device: 'd1' });
    for (let i = 0; i < 3; i++) await app.publish({ to: [user], payload: { i } });
    // A page with more after it is not settled.
    const page = await app.http.get('/v1/poll?since=0&limit=2').set('Authorization', auth(t));
    assert.equal(page.body.more, true);
    const rest = await delta(() => app.http.get('/v1/poll?since=2&limit=2&timeout=1').set('Authorization', auth(t)));
    assert.deepEqual(rest.out.body.messages.map((m: { seq: number }) => m.seq), [3]);
    assert.equal(rest.statement, 1);
    // Settled at 3; asking from 1 again (a client that lost its place) reads.
    const again = await delta(() => app.http.get('/v1/poll?since=1&timeout=1&ack=false').set('Authorization', auth(t)));
    assert.deepEqual(again.out.body.messages.map((m: { seq: number }) => m.seq), [2, 3]);
    assert.equal(again.statement, 1);
  });

  it("a read marker moved by another device reaches the poll's next answers", async () => {
    const user = uid();
    const phone = await app.token(user, { device: 'phone' });
    const laptop = await app.token(user, { device: 'laptop' });
    await app.publish({ to: [user], payload: { n: 1 } });
    const first = await app.http.get('/v1/poll?since=0').set('Authorization', auth(laptop));
    assert.equal(first.body.read, 0);
    assert.deepEqual((await app.http.post('/v1/read').set('Authorization', auth(phone)).send({ seq: 1 })).body, { read: 1 });
    // The marker's notification may arrive just after the next poll started from the answer's
    // marker; the one after that reads it. Without it, every resumed answer would carry 0.
    const reads: number[] = [];
    for (let i = 0; i < 3 && reads.at(-1) !== 1; i++) {
      reads.push((await app.http.get('/v1/poll?since=1&timeout=0').set('Authorization', auth(laptop))).body.read);
    }
    assert.equal(reads.at(-1), 1, `reads seen: ${reads}`);
  });
});
