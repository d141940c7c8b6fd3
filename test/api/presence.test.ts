// Presence: online while a device holds a poll or stream (or was seen within the window); changes
// pushed as `presence` events to online members of presence groups, once per change across all
// processes, without flapping for a client that comes back within the window.
import assert from 'node:assert/strict';
import { startApp, uid, type TestApp } from '../helpers/app.ts';
import { spawnServer, type ServerProcess } from '../helpers/spawn.ts';
import { openSse, type SseClient } from '../helpers/sse.ts';
import { testDb, sql } from '../helpers/db.ts';
import { waitFor } from '../helpers/wait.ts';
import { parsePrometheus, sumOf } from '../helpers/prometheus.ts';

const bearer = (t: string) => `Bearer ${t}`;
const presenceOf = (c: SseClient, user: string) => c.events.filter((e) => e.event === 'presence').map((e) => JSON.parse(e.data)).filter((p) => p.user === user).map((p) => p.online as boolean);

async function stream(url: string, token: string): Promise<SseClient> {
  const c = await openSse(url, '/v1/stream', { authorization: bearer(token) });
  await c.waitFor((x) => x.events.some((e) => e.event === 'ready'));
  return c;
}

describe('presence on one process', () => {
  let app: TestApp;
  const open: SseClient[] = [];
  // A 2 s window: re-asserted every 0.5 s, swept every 0.33 s.
  before(async () => { app = await startApp({ DEVICE_ONLINE_WINDOW_S: '2' }); });
  after(async () => { for (const c of open.splice(0)) c.close(); await app.close(); });

  const room = async (members: string[], presence = true) => {
    const g = uid('g');
    await app.http.put(`/v1/groups/${g}`).set('Authorization', bearer(app.tenant.adminKey)).send({ members, presence }).expect(201);
    return g;
  };
  const ask = async (token: string, users: string[]) => {
    const r = await app.http.get(`/v1/presence?users=${users.join(',')}`).set('Authorization', bearer(token));
    assert.equal(r.status, 200, r.text);
    return r.body as Record<string, { online: boolean; lastSeen: string | null }>;
  };

  it('a stream makes its user online; closing it makes them offline after the window; members are told once each', async () => {
    const [watcher, subject] = [uid('w'), uid('s')];
    await room([watcher, subject]);
    const wt = await app.token(watcher);
    const w = await stream(app.url, wt);
    open.push(w);
    assert.deepEqual(await ask(wt, [subject]), { [subject]: { online: false, lastSeen: null } }, 'never seen');

    const s = await stream(app.url, await app.token(subject, { device: 'laptop' }));
    const p = await ask(wt, [subject]);
    assert.equal(p[subject]!.online, true, 'online as soon as the stream is held');
    assert.ok(!Number.isNaN(Date.parse(p[subject]!.lastSeen!)));
    await w.waitFor((c) => presenceOf(c, subject).length === 1);
    assert.deepEqual(presenceOf(w, subject), [true]);
    const ev = w.events.find((e) => e.event === 'presence')!;
    assert.equal(ev.id, undefined);

    s.close();
    await w.waitFor((c) => presenceOf(c, subject).length === 2, 15_000);
    assert.deepEqual(presenceOf(w, subject), [true, false]);
    // Offline was decided only once the user had not been seen for a whole window.
    const [row] = await sql<{ idle: number }>(`SELECT extract(epoch FROM changed_at - seen_at)::float AS idle FROM presence WHERE tenant_id = $1 AND user_id = $2`, [app.tenant.id, subject]);
    assert.ok(row!.idle >= 2, `offline after ${row!.idle} s unseen`);
    assert.equal((await ask(wt, [subject]))[subject]!.online, false);
  });

  it('a poll loop with gaps shorter than the window stays online (no flapping)', async () => {
    const [watcher, subject] = [uid('w'), uid('s')];
    await room([watcher, subject]);
    const wt = await app.token(watcher);
    const w = await stream(app.url, wt);
    open.push(w);
    const st = await app.token(subject);
    const until = Date.now() + 6000; // three windows
    let since = 0;
    let polls = 0;
    while (Date.now() < until) {
      const r = await app.http.get(`/v1/poll?since=${since}&timeout=1`).set('Authorization', bearer(st));
      since = r.body.next;
      polls++;
      assert.equal((await ask(wt, [subject]))[subject]!.online, true, `online between polls (poll ${polls})`);
      // The client's gap between two polls: half the window.
      await new Promise((r) => setTimeout(r, 1000));
    }
    assert.deepEqual(presenceOf(w, subject), [true], 'one online change, never offline while the loop ran');
    await w.waitFor((c) => presenceOf(c, subject).length === 2, 15_000);
    assert.deepEqual(presenceOf(w, subject), [true, false], 'offline once the loop stopped');
  });

  it('reveals only users sharing a group with the caller; an admin key sees anyone; a publish key is refused', async () => {
    const [me, friend, stranger] = [uid('m'), uid('f'), uid('x')];
    await room([me, friend], false); // any shared group counts, not only presence groups
    const s = await stream(app.url, await app.token(stranger));
    open.push(s);
    const mt = await app.token(me);
    const out = await ask(mt, [me, friend, stranger]);
    assert.deepEqual(Object.keys(out).sort(), [friend, me].sort(), 'the stranger is absent, not even offline');
    assert.equal(out[me]!.online, false);
    assert.deepEqual(await ask(mt, [stranger]), {});
    const admin = await app.http.get(`/v1/presence?users=${stranger},${friend}`).set('Authorization', bearer(app.tenant.adminKey));
    assert.equal(admin.body[stranger].online, true);
    assert.equal(admin.body[friend].online, false);
    assert.equal((await app.http.get(`/v1/presence?users=${me}`).set('Authorization', bearer(app.tenant.publishKey))).status, 403);
    assert.equal((await app.http.get('/v1/presence').set('Authorization', bearer(mt))).status, 400);
    assert.equal((await app.http.get('/v1/presence?users=a,b%7Cc').set('Authorization', bearer(mt))).status, 400);
    const many = Array.from({ length: 1001 }, (_, i) => `u${i}`).join(',');
    assert.equal((await app.http.get(`/v1/presence?users=${many}`).set('Authorization', bearer(mt))).status, 400);
    const other = await app.newTenant();
    const ot = await app.token(stranger, { tenant: other });
    assert.deepEqual(await ask(ot, [stranger]), { [stranger]: { online: false, lastSeen: null } }, 'the same name in another tenant is another user');
  });

  it('a user in no presence group changes state without anyone being told', async () => {
    const [watcher, subject] = [uid('w'), uid('s')];
    await room([watcher, subject], false);
    const w = await stream(app.url, await app.token(watcher));
    open.push(w);
    const s = await stream(app.url, await app.token(subject));
    await waitFor(async () => (await sql('SELECT online FROM presence WHERE tenant_id = $1 AND user_id = $2', [app.tenant.id, subject]))[0]?.online === true);
    s.close();
    await waitFor(async () => (await sql('SELECT online FROM presence WHERE tenant_id = $1 AND user_id = $2', [app.tenant.id, subject]))[0]?.online === false, { timeoutMs: 15_000 });
    await app.http.post('/v1/signals').set('Authorization', bearer(app.tenant.adminKey)).send({ to: [watcher], type: 'marker', payload: {} });
    await w.waitFor((c) => c.events.some((e) => e.event === 'signal'));
    assert.deepEqual(presenceOf(w, subject), []);
  });
});

describe('presence across two processes', () => {
  let a: TestApp;
  let b: ServerProcess;
  const open: SseClient[] = [];
  before(async () => {
    a = await startApp({ DEVICE_ONLINE_WINDOW_S: '2' });
    b = await spawnServer({ DATABASE_URL: testDb().url, DEVICE_ONLINE_WINDOW_S: '2', JOBS_ENABLED: 'false' });
  });
  after(async () => { for (const c of open.splice(0)) c.close(); await a.close(); await b.stop(); });

  const metric = async (url: string, name: string, labels: Record<string, string> = {}) =>
    sumOf(parsePrometheus(await (await fetch(`${url}/metrics`)).text()), name, labels);

  it('exactly one presence event per change reaches each member, though both processes see the user connect', async () => {
    const [wa, wb, subject] = [uid('wa'), uid('wb'), uid('s')];
    const g = uid('g');
    await a.http.put(`/v1/groups/${g}`).set('Authorization', bearer(a.tenant.adminKey)).send({ members: [wa, wb, subject], presence: true }).expect(201);
    // One member watching on each process.
    const onA = await stream(a.url, await a.token(wa));
    const onB = await stream(b.url, await a.token(wb));
    open.push(onA, onB);
    await onA.waitFor((c) => presenceOf(c, wb).length === 1);

    const assertsB = await metric(b.url, 'mailslot_presence_asserts_total');
    const assertsA = await metric(a.url, 'mailslot_presence_asserts_total');
    // The subject connects to both processes at once: both report it, the database decides once.
    const [sa, sb] = await Promise.all([
      stream(a.url, await a.token(subject, { device: 'laptop' })),
      stream(b.url, await a.token(subject, { device: 'phone' })),
    ]);
    await onA.waitFor((c) => presenceOf(c, subject).length === 1);
    await onB.waitFor((c) => presenceOf(c, subject).length === 1);
    // Both processes have written their assertion (so a second announcement would have been sent)...
    await waitFor(async () => (await metric(b.url, 'mailslot_presence_asserts_total')) > assertsB && (await metric(a.url, 'mailslot_presence_asserts_total')) > assertsA,
      { what: 'both processes asserted the subject' });
    // ...and a marker sent after both arrives after anything they sent (notifications keep commit order).
    await a.http.post('/v1/signals').set('Authorization', bearer(a.tenant.adminKey)).send({ to: [wa, wb], type: 'marker', payload: {} });
    for (const c of [onA, onB]) await c.waitFor((x) => x.events.some((e) => e.event === 'signal'));
    assert.deepEqual(presenceOf(onA, subject), [true]);
    assert.deepEqual(presenceOf(onB, subject), [true]);

    // Going away from one process only changes nothing; from both, one offline each.
    sa.close();
    const closedAt = (await sql<{ t: Date }>('SELECT now() AS t'))[0]!.t;
    // B keeps the subject seen: wait until a whole window after the close has passed with it seen.
    await waitFor(async () => (await sql(`SELECT 1 FROM presence WHERE tenant_id = $1 AND user_id = $2 AND seen_at > $3::timestamptz + interval '2.5 s'`,
      [a.tenant.id, subject, closedAt])).length === 1, { what: 'seen by B past the window' });
    await a.http.post('/v1/signals').set('Authorization', bearer(a.tenant.adminKey)).send({ to: [wa], type: 'marker1', payload: {} });
    await onA.waitFor((x) => x.events.some((e) => e.event === 'signal' && e.data.includes('marker1')));
    assert.deepEqual(presenceOf(onA, subject), [true], 'still connected on B: no change');
    sb.close();
    await onA.waitFor((c) => presenceOf(c, subject).length === 2, 15_000);
    await onB.waitFor((c) => presenceOf(c, subject).length === 2, 15_000);
    await a.http.post('/v1/signals').set('Authorization', bearer(a.tenant.adminKey)).send({ to: [wa, wb], type: 'marker2', payload: {} });
    for (const c of [onA, onB]) await c.waitFor((x) => x.events.some((e) => e.event === 'signal' && e.data.includes('marker2')));
    assert.deepEqual(presenceOf(onA, subject), [true, false]);
    assert.deepEqual(presenceOf(onB, subject), [true, false]);
    const changes = (await metric(a.url, 'mailslot_presence_changes_total')) + (await metric(b.url, 'mailslot_presence_changes_total'));
    assert.ok(changes >= 4, 'wb, the subject online and offline (and wa) were decided somewhere');
  });
});
