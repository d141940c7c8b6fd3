import assert from 'node:assert/strict';
import { startApp, uid, type TestApp } from '../helpers/app.ts';
import { sql } from '../helpers/db.ts';
import { waitFor } from '../helpers/wait.ts';

type Json = Record<string, any>;

/** Every entry of these users, checked to be gap-free (seq 1..head) and duplicate-free. */
async function inboxes(tenantId: string, users: string[]): Promise<Map<string, string[]>> {
  const rows = await sql<{ user_id: string; seq: number; message_id: string }>(
    'SELECT user_id, seq::int, message_id::text FROM inbox_entries WHERE tenant_id = $1 AND user_id = ANY($2) ORDER BY user_id, seq',
    [tenantId, users]);
  const heads = new Map((await sql<{ user_id: string; head_seq: number }>(
    'SELECT user_id, head_seq::int FROM inboxes WHERE tenant_id = $1 AND user_id = ANY($2)', [tenantId, users])).map((r) => [r.user_id, r.head_seq]));
  const out = new Map<string, string[]>(users.map((u) => [u, []]));
  for (const r of rows) {
    const list = out.get(r.user_id)!;
    assert.equal(r.seq, list.length + 1, `gap in ${r.user_id}'s inbox at seq ${r.seq}`);
    list.push(r.message_id);
  }
  for (const [u, list] of out) {
    assert.equal(new Set(list).size, list.length, `duplicate entry in ${u}'s inbox`);
    assert.equal(heads.get(u) ?? 0, list.length, `${u}: head differs from the entries`);
  }
  return out;
}

const outboxDone = (tenantId: string, id: string) => async () =>
  (await sql('SELECT 1 FROM outbox WHERE tenant_id = $1 AND message_id = $2 AND state = $3', [tenantId, id, 'done'])).length === 1;

describe('groups', () => {
  let app: TestApp;
  before(async () => { app = await startApp({ GROUP_MAX_MEMBERS: '6000' }); });
  after(async () => { await app.close(); });

  const admin = () => `Bearer ${app.tenant.adminKey}`;
  const put = (g: string, body: Json) => app.http.put(`/v1/groups/${g}`).set('Authorization', admin()).send(body);

  it('PUT creates or replaces, POST adds, DELETE removes, GET reads (admin key only)', async () => {
    const g = uid('g');
    let r = await put(g, { members: ['bob', 'alice', 'bob'] });
    assert.equal(r.status, 201);
    assert.deepEqual({ ...r.body, createdAt: undefined }, { group: g, size: 2, presence: false, createdAt: undefined, added: 2, removed: 0 });
    r = await put(g, { members: ['alice', 'carol'], presence: true });
    assert.equal(r.status, 200);
    assert.equal(r.body.added, 1);
    assert.equal(r.body.removed, 1);
    r = await app.http.post(`/v1/groups/${g}/members`).set('Authorization', admin()).send({ users: ['dave', 'alice'] });
    assert.deepEqual(r.body, { group: g, added: 1, size: 3 });
    r = await app.http.delete(`/v1/groups/${g}/members/carol`).set('Authorization', admin());
    assert.deepEqual(r.body, { group: g, user: 'carol', removed: true });
    r = await app.http.get(`/v1/groups/${g}`).set('Authorization', admin());
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.members, ['alice', 'dave']);
    assert.equal(r.body.presence, true);
    assert.ok(!Number.isNaN(Date.parse(r.body.createdAt)));

    const pub = await app.http.get(`/v1/groups/${g}`).set('Authorization', `Bearer ${app.tenant.publishKey}`);
    assert.equal(pub.status, 403);
    const tok = await app.http.get(`/v1/groups/${g}`).set('Authorization', `Bearer ${await app.token('alice')}`);
    assert.equal(tok.status, 403);
    const other = await app.newTenant();
    const foreign = await app.http.get(`/v1/groups/${g}`).set('Authorization', `Bearer ${other.adminKey}`);
    assert.equal(foreign.status, 404, 'a group is invisible to other tenants');
  });

  it('refuses bad ids, unknown groups and too many members with clear 4xx', async () => {
    const g = uid('g');
    assert.equal((await put('bad|id', { members: [] })).status, 400);
    const badMember = await put(g, { members: ['ok', 'not ok'] });
    assert.equal(badMember.status, 400);
    assert.match(badMember.body.message, /members\[1\]/);
    assert.equal((await put(g, { members: 'x' })).status, 400);
    assert.equal((await put(g, { members: [], extra: 1 })).status, 400);
    assert.equal((await app.http.post(`/v1/groups/${g}/members`).set('Authorization', admin()).send({ users: ['a'] })).status, 404);
    assert.equal((await app.http.delete(`/v1/groups/${g}/members/a`).set('Authorization', admin())).status, 404);
    assert.equal((await app.http.get(`/v1/groups/${g}`).set('Authorization', admin())).status, 404);
    const many = Array.from({ length: 6001 }, (_, i) => `m${i}`);
    const tooMany = await put(g, { members: many });
    assert.equal(tooMany.status, 400);
    assert.match(tooMany.body.message, /at most 6000/);
    assert.equal((await put(g, { members: many.slice(0, 5999) })).status, 201);
    const over = await app.http.post(`/v1/groups/${g}/members`).set('Authorization', admin()).send({ users: ['x1', 'x2'] });
    assert.equal(over.status, 400);
    const size = await sql('SELECT count(*)::int AS n FROM group_members WHERE tenant_id = $1 AND group_id = $2', [app.tenant.id, g]);
    assert.equal(size[0]!.n, 5999, 'a refused add changes nothing');
    const pub = await app.http.post('/v1/messages').set('Authorization', admin()).send({ group: uid('nogroup'), payload: {} });
    assert.equal(pub.status, 404);
    assert.equal(pub.body.error, 'not_found');
  });

  it('inline: every member and the sender get one entry; later members get nothing earlier; removed members stop', async () => {
    const g = uid('g');
    const [a, b, c, d] = [uid('a'), uid('b'), uid('c'), uid('d')];
    await put(g, { members: [a, b, c] });
    const alice = await app.token(a, { publish: true });
    const r1 = await app.http.post('/v1/messages').set('Authorization', `Bearer ${alice}`).send({ group: g, payload: { n: 1 } });
    assert.equal(r1.status, 201);
    assert.deepEqual(r1.body.seqs, { [a]: 1, [b]: 1, [c]: 1 }, 'the sender is a member: one copy, not two');
    const outsider = await app.token(d, { publish: true });
    const refused = await app.http.post('/v1/messages').set('Authorization', `Bearer ${outsider}`).send({ group: g, payload: {} });
    assert.equal(refused.status, 403, 'a client token publishes only to its own groups');
    await app.http.post(`/v1/groups/${g}/members`).set('Authorization', admin()).send({ users: [d] });
    await app.http.delete(`/v1/groups/${g}/members/${c}`).set('Authorization', admin());
    const r2 = await app.publish({ group: g, from: 'ops', payload: { n: 2 } });
    assert.deepEqual(Object.keys(r2.seqs).sort(), [a, b, d, 'ops'].sort());
    const boxes = await inboxes(app.tenant.id, [a, b, c, d]);
    assert.deepEqual(boxes.get(a), [r1.body.id, r2.id]);
    assert.deepEqual(boxes.get(c), [r1.body.id], 'removed: stops receiving');
    assert.deepEqual(boxes.get(d), [r2.id], 'added later: nothing from before');
    const msg = await app.http.get('/v1/messages').query({ user: d }).set('Authorization', admin());
    assert.equal(msg.body.messages[0].group, g);
  });

  it('a 5,000-member group: 202, queued fan-out completes, every member exactly once, gap-free, woken', async function () {
    this.timeout(120_000);
    const g = uid('big');
    const members = Array.from({ length: 5000 }, (_, i) => `m${String(i).padStart(4, '0')}-${g}`);
    // Some members already hold entries, so the fan-out's seqs must continue their inboxes.
    await app.publish({ to: members.slice(0, 50), payload: { before: true } });
    const sender = uid('s');
    assert.equal((await put(g, { members: [...members, sender] })).status, 201);
    const last = members[members.length - 1]!;
    const lastTok = await app.token(last);
    const held = app.http.get('/v1/poll?since=0&timeout=30').set('Authorization', `Bearer ${lastTok}`).then((r) => r);
    await waitFor(() => app.service.deps.registry.polls === 1, { what: 'poll held' });
    const st = await app.token(sender, { publish: true });

    const t0 = performance.now();
    const r = await app.http.post('/v1/messages').set('Authorization', `Bearer ${st}`).send({ group: g, payload: { big: true } });
    const acceptedMs = performance.now() - t0;
    assert.equal(r.status, 202);
    assert.equal(r.body.fanout, 'queued');
    assert.deepEqual(r.body.seqs, { [sender]: 1 }, 'the sender\'s copy is written with the publish');
    await waitFor(outboxDone(app.tenant.id, r.body.id), { timeoutMs: 90_000, everyMs: 10, what: 'fan-out done' });
    const doneMs = performance.now() - t0;
    const [m] = await sql<{ ms: number; attempts: number }>(
      `SELECT extract(epoch FROM o.finished_at - m.created_at) * 1000 AS ms, o.attempts FROM outbox o
       JOIN messages m ON m.tenant_id = o.tenant_id AND m.id = o.message_id WHERE o.tenant_id = $1 AND o.message_id = $2`, [app.tenant.id, r.body.id]);
    console.log(`      5,000-member fan-out: publish answered in ${acceptedMs.toFixed(1)} ms; last entry committed ${Number(m!.ms).toFixed(1)} ms after the publish (test saw it done after ${doneMs.toFixed(0)} ms)`);

    const boxes = await inboxes(app.tenant.id, members);
    for (const [u, list] of boxes) {
      assert.equal(list.filter((id) => id === r.body.id).length, 1, `${u} got the message once`);
    }
    assert.equal(boxes.get(members[0]!)!.length, 2);
    const woken = await held;
    assert.equal(woken.body.messages.length, 1, 'the fan-out\'s NOTIFY woke a held poll');
    assert.equal(woken.body.messages[0].id, r.body.id);
  });

  it('without jobs in the process (JOBS_ENABLED=false) a queued fan-out runs in-process', async function () {
    this.timeout(60_000);
    const small = await startApp({ GROUP_INLINE_MAX: '2', GROUP_FANOUT_BATCH: '2', JOBS_ENABLED: 'false' });
    try {
      const g = uid('g');
      const users = [uid('a'), uid('b'), uid('c'), uid('d')];
      await small.http.put(`/v1/groups/${g}`).set('Authorization', `Bearer ${small.tenant.adminKey}`).send({ members: users });
      const body = { group: g, from: users[0], payload: {}, dedupId: 'once' };
      const r = await small.http.post('/v1/messages').set('Authorization', `Bearer ${small.tenant.adminKey}`).send(body);
      assert.equal(r.status, 202);
      assert.deepEqual(r.body.seqs, { [users[0]!]: 1 });
      const again = await small.http.post('/v1/messages').set('Authorization', `Bearer ${small.tenant.adminKey}`).send(body);
      assert.equal(again.status, 200);
      assert.deepEqual({ ...again.body, duplicate: undefined }, { ...r.body, duplicate: undefined }, 'a repeat answers as the first time');
      assert.equal(again.body.duplicate, true);
      await waitFor(outboxDone(small.tenant.id, r.body.id), { what: 'fan-out done' });
      const boxes = await inboxes(small.tenant.id, users);
      for (const u of users) assert.deepEqual(boxes.get(u), [r.body.id]);
      const [o] = await sql('SELECT cardinality(members) AS n, done, total FROM outbox WHERE message_id = $1', [r.body.id]);
      assert.deepEqual(o, { n: 0, done: 3, total: 3 }, 'a finished row drops its member snapshot (the sender\'s copy is not in it)');
    } finally {
      await small.close();
    }
  });
});
