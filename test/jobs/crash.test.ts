// Crash recovery: the process that published a large group dies (kill -9) after the commit and
// before its fan-out finished; another process's compensation scan completes it exactly once.
import assert from 'node:assert/strict';
import { startApp, uid, type TestApp } from '../helpers/app.ts';
import { spawnServer } from '../helpers/spawn.ts';
import { sql, testDb } from '../helpers/db.ts';
import { waitFor } from '../helpers/wait.ts';

describe('crash between publish commit and fan-out', function () {
  this.timeout(180_000);
  let app: TestApp | null = null;
  after(async () => { await app?.close(); });

  it('kill -9 mid fan-out: after a scan every member has the message exactly once, gap-free', async () => {
    // Jobs off in the victim: it fans out in-process, in small batches, so there is time to kill it.
    const victim = await spawnServer({ DATABASE_URL: testDb().url, JOBS_ENABLED: 'false', GROUP_INLINE_MAX: '10', GROUP_FANOUT_BATCH: '20' });
    const setup = await startApp({ JOBS_ENABLED: 'false' });
    const { tenant } = setup;
    await setup.close();
    const group = uid('g');
    const members = Array.from({ length: 3000 }, (_, i) => `${group}-m${i}`);
    const put = await fetch(`${victim.url}/v1/groups/${group}`, {
      method: 'PUT', headers: { authorization: `Bearer ${tenant.adminKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ members }),
    });
    assert.ok(put.status === 200 || put.status === 201, String(put.status));
    // Every member already holds one message, so a duplicate or a gap would show in the seqs.
    await fetch(`${victim.url}/v1/messages`, {
      method: 'POST', headers: { authorization: `Bearer ${tenant.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ to: members.slice(0, 1000), payload: { warmup: true } }),
    });
    const pub = await fetch(`${victim.url}/v1/messages`, {
      method: 'POST', headers: { authorization: `Bearer ${tenant.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ group, payload: { important: true } }),
    });
    assert.equal(pub.status, 202);
    await victim.kill9();
    const { id } = await pub.json() as { id: string };
    const [row] = await sql<{ state: string; done: number }>('SELECT state, done FROM outbox WHERE tenant_id = $1 AND message_id = $2', [tenant.id, id]);
    assert.equal(row!.state, 'pending', 'the victim died before finishing (otherwise this test proves nothing)');

    app = await startApp({ COMPENSATION_CRON: '*/1 * * * * *', FANOUT_STUCK_S: '1' });
    await waitFor(async () => (await sql('SELECT 1 FROM outbox WHERE tenant_id = $1 AND message_id = $2 AND state = $3', [tenant.id, id, 'done'])).length,
      { timeoutMs: 120_000, everyMs: 250, what: 'the re-driven fan-out to finish' });
    const per = await sql<{ n: number }>(
      'SELECT count(*)::int AS n FROM inbox_entries WHERE tenant_id = $1 AND message_id = $2 GROUP BY user_id HAVING count(*) <> 1', [tenant.id, id]);
    assert.equal(per.length, 0, 'a member got the message more than once');
    const reached = await sql<{ n: number }>('SELECT count(*)::int AS n FROM inbox_entries WHERE tenant_id = $1 AND message_id = $2', [tenant.id, id]);
    assert.equal(reached[0]!.n, members.length);
    const gaps = await sql<{ user_id: string }>(
      `SELECT e.user_id FROM inbox_entries e JOIN inboxes i USING (tenant_id, user_id)
       WHERE e.tenant_id = $1 AND e.user_id LIKE $2 GROUP BY e.user_id HAVING count(*) <> max(i.head_seq) OR max(e.seq) <> max(i.head_seq)`,
      [tenant.id, `${group}-m%`]);
    assert.deepEqual(gaps, [], 'inboxes are gap-free');
    const runs = await sql('SELECT 1 FROM job_runs WHERE job LIKE $1 AND (detail->\'outbox\'->>\'redriven\')::int > 0', ['%compensation%']);
    assert.ok(runs.length > 0, 'a compensation run re-drove it');
  });
});
