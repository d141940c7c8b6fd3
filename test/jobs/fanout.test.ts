import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startApp, uid, type TestApp } from '../helpers/app.ts';
import { sql } from '../helpers/db.ts';
import { waitFor } from '../helpers/wait.ts';
import { insertMessages } from '../../db/queries/publish.ts';
import { fanoutBatch, runFanout, redriveStuckFanouts } from '../../app/services/fanout.ts';

// A queued group message stored exactly as the publisher stores it, but with no job sent: the
// situation of a process that died between COMMIT and boss.send().
async function queuedWithoutJob(app: TestApp, group: string): Promise<string> {
  const id = crypto.randomUUID();
  const [stored] = await insertMessages(app.service.deps.db, [{
    tenantId: app.tenant.id, id, sender: 'system', groupId: group, type: 'message', payloadJson: '{"q":1}',
    dedupId: null, reqHash: crypto.randomBytes(32), ttlS: 3600, recipients: [], fanout: 'queued',
  }]);
  assert.ok(stored?.queued, 'an outbox row was written with the message');
  return id;
}

async function entriesOf(tenantId: string, messageId: string): Promise<{ user_id: string; seq: number }[]> {
  return sql('SELECT user_id, seq::int FROM inbox_entries WHERE tenant_id = $1 AND message_id = $2 ORDER BY user_id', [tenantId, messageId]);
}

describe('fan-out jobs', () => {
  let app: TestApp;
  before(async () => { app = await startApp(); });
  after(async () => { await app.close(); });

  const members = (g: string, n: number) => Array.from({ length: n }, (_, i) => `${g}-${String(i).padStart(3, '0')}`);
  const putGroup = (g: string, users: string[]) =>
    app.http.put(`/v1/groups/${g}`).set('Authorization', `Bearer ${app.tenant.adminKey}`).send({ members: users }).then((r) => assert.equal(r.status, 201));

  it('a batch run twice (a retried job) writes no second entry and consumes no seq', async () => {
    const g = uid('g');
    const users = members(g, 50);
    await putGroup(g, users);
    await app.publish({ to: users.slice(0, 10), payload: { first: true } });
    const id = await queuedWithoutJob(app, g);
    const job = { tenantId: app.tenant.id, messageId: id };

    const once = await fanoutBatch(app.service.deps.db, job, 20, 0);
    assert.deepEqual(once, { written: 20, covered: 20, state: 'pending' });
    const again = await fanoutBatch(app.service.deps.db, job, 20, 0);
    assert.deepEqual(again, { written: 0, covered: 20, state: 'pending' }, 'the repeated batch is a no-op');
    // Overlapping the done part and the rest: only the new half is written.
    const overlap = await fanoutBatch(app.service.deps.db, job, 20, 10);
    assert.equal(overlap.written, 10);
    const rest = await runFanout(app.service.deps.db, job, 20);
    assert.equal(rest.rows, 20);
    assert.equal(rest.detail.state, 'done');

    const entries = await entriesOf(app.tenant.id, id);
    assert.equal(entries.length, 50);
    for (const e of entries) assert.equal(e.seq, users.slice(0, 10).includes(e.user_id) ? 2 : 1, `${e.user_id}: no seq skipped`);
    const heads = await sql('SELECT count(*)::int AS n FROM inboxes WHERE tenant_id = $1 AND user_id = ANY($2) AND head_seq <> (SELECT max(seq) FROM inbox_entries e WHERE e.tenant_id = inboxes.tenant_id AND e.user_id = inboxes.user_id)', [app.tenant.id, users]);
    assert.equal(heads[0]!.n, 0, 'every head equals its last entry');
    const [o] = await sql('SELECT state, done, total, attempts FROM outbox WHERE message_id = $1', [id]);
    assert.deepEqual(o, { state: 'done', done: 50, total: 50, attempts: 1 });
  });

  it('the member set is fixed at publish: later members get nothing, members removed meanwhile still do', async () => {
    const g = uid('g');
    const users = members(g, 5);
    await putGroup(g, users);
    const id = await queuedWithoutJob(app, g);
    const late = uid('late');
    await app.http.post(`/v1/groups/${g}/members`).set('Authorization', `Bearer ${app.tenant.adminKey}`).send({ users: [late] });
    await app.http.delete(`/v1/groups/${g}/members/${users[0]}`).set('Authorization', `Bearer ${app.tenant.adminKey}`);
    await runFanout(app.service.deps.db, { tenantId: app.tenant.id, messageId: id }, 2);
    assert.deepEqual((await entriesOf(app.tenant.id, id)).map((e) => e.user_id), users);
  });

  it('redriveStuckFanouts sends a job for an outbox row whose job never ran, and the worker finishes it', async () => {
    const g = uid('g');
    const users = members(g, 30);
    await putGroup(g, users);
    const id = await queuedWithoutJob(app, g);
    const boss = app.service.boss!;
    assert.equal(await redriveStuckFanouts(app.service.deps.db, boss, 60_000), 0, 'a fresh row is not stuck yet');
    await sql(`UPDATE outbox SET updated_at = now() - interval '5 minutes' WHERE message_id = $1`, [id]);
    assert.equal(await redriveStuckFanouts(app.service.deps.db, boss, 60_000), 1);
    assert.equal(await redriveStuckFanouts(app.service.deps.db, boss, 60_000), 0, 'a re-driven row is not claimed again at once');
    await waitFor(async () => (await sql('SELECT 1 FROM outbox WHERE message_id = $1 AND state = $2', [id, 'done'])).length === 1,
      { timeoutMs: 20_000, what: 're-driven fan-out done' });
    assert.equal((await entriesOf(app.tenant.id, id)).length, 30);
    const runs = await sql(`SELECT rows FROM job_runs WHERE job = 'fanout' AND rows = 30 AND started_at > now() - interval '1 minute'`);
    assert.ok(runs.length >= 1, 'the run is recorded in job_runs');
  });

  it('a message expired before its fan-out ends closes the outbox row as expired', async () => {
    const g = uid('g');
    await putGroup(g, members(g, 3));
    const id = await queuedWithoutJob(app, g);
    await sql('DELETE FROM messages WHERE tenant_id = $1 AND id = $2', [app.tenant.id, id]);
    const r = await runFanout(app.service.deps.db, { tenantId: app.tenant.id, messageId: id }, 2);
    assert.equal(r.detail.state, 'expired');
    assert.equal((await entriesOf(app.tenant.id, id)).length, 0);
  });
});
