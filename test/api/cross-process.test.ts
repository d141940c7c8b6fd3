import assert from 'node:assert/strict';
import { startApp, uid, type TestApp } from '../helpers/app.ts';
import { spawnServer, type ServerProcess } from '../helpers/spawn.ts';
import { testDb, sql } from '../helpers/db.ts';
import { openSse } from '../helpers/sse.ts';
import { waitFor } from '../helpers/wait.ts';
import pg from 'pg';

describe('wake-ups across processes', () => {
  let a: TestApp;
  let b: ServerProcess;
  // Safety tick slowed to its maximum so that a prompt answer proves the NOTIFY path.
  before(async () => {
    a = await startApp({ SAFETY_TICK_S: '59' });
    b = await spawnServer({ DATABASE_URL: testDb().url, SAFETY_TICK_S: '59', JOBS_ENABLED: 'false' });
  });
  after(async () => { await a.close(); await b.stop(); });

  it('a long poll held on process A is answered when B (another process) commits a publish', async () => {
    const u = uid();
    const t = await a.token(u);
    const held = a.http.get('/v1/poll?since=0&timeout=30').set('Authorization', `Bearer ${t}`).then((r) => r);
    await waitFor(() => a.service.deps.registry.polls === 1);
    const t0 = Date.now();
    const pub = await fetch(`${b.url}/v1/messages`, {
      method: 'POST', headers: { authorization: `Bearer ${a.tenant.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ to: [u], payload: { via: 'B' } }),
    });
    assert.equal(pub.status, 201);
    const r = await held;
    assert.equal(r.body.messages[0].payload.via, 'B');
    assert.ok(Date.now() - t0 < 10_000, 'answered by NOTIFY, long before the 59 s safety tick or 30 s timeout');
  });

  it('a poll on A resuming from a settled answer is answered with what B committed in between', async () => {
    const u = uid();
    const t = await a.token(u);
    const empty = await a.http.get('/v1/poll?since=0&timeout=1').set('Authorization', `Bearer ${t}`);
    assert.deepEqual(empty.body.messages, []);
    const pub = await fetch(`${b.url}/v1/messages`, {
      method: 'POST', headers: { authorization: `Bearer ${a.tenant.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ to: [u], payload: { via: 'B' } }),
    });
    assert.equal(pub.status, 201);
    await new Promise((r) => setTimeout(r, 100)); // let B's notification reach A before the next poll
    const t0 = Date.now();
    const r = await a.http.get('/v1/poll?since=0&timeout=30').set('Authorization', `Bearer ${t}`);
    assert.equal(r.body.messages[0]?.payload.via, 'B');
    assert.ok(Date.now() - t0 < 10_000, 'answered at once, not by the 59 s safety tick or the 30 s timeout');
  });

  it('an SSE stream on A receives what B publishes', async () => {
    const u = uid();
    const t = await a.token(u);
    const c = await openSse(a.url, '/v1/stream', { authorization: `Bearer ${t}` });
    await c.waitFor(() => c.events.some((e) => e.event === 'ready'));
    for (let i = 0; i < 5; i++) {
      await fetch(`${b.url}/v1/messages`, {
        method: 'POST', headers: { authorization: `Bearer ${a.tenant.adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ to: [u], payload: { i } }),
      });
    }
    await c.waitFor(() => c.messages().length === 5);
    assert.deepEqual(c.messages().map((m) => m.seq), [1, 2, 3, 4, 5]);
    c.close();
  });
});

describe('LISTEN connection loss', () => {
  let app: TestApp;
  before(async () => { app = await startApp({ SAFETY_TICK_S: '59' }); });
  after(async () => { await app.close(); });

  it('reconnects by itself, re-checks waiters, and a poll held across the loss is answered', async () => {
    const u = uid();
    const t = await app.token(u);
    const listener = app.service.listener;
    const pid = await listener.backendPid();
    assert.ok(pid);
    const held = app.http.get('/v1/poll?since=0&timeout=30').set('Authorization', `Bearer ${t}`).then((r) => r);
    await waitFor(() => app.service.deps.registry.polls === 1);
    const down = new Promise((r) => listener.once('down', r));
    const c = new pg.Client({ connectionString: testDb().url });
    await c.connect();
    // Publish while the listener is gone: its NOTIFY is lost; the re-check after reconnect must find it.
    await c.query('SELECT pg_terminate_backend($1)', [pid]);
    await down;
    await app.publish({ to: [u], payload: { during: 'outage' } });
    await c.end();
    const r = await held;
    assert.equal(r.body.messages[0].payload.during, 'outage');
    await waitFor(() => listener.ready);
    assert.notEqual(await listener.backendPid(), pid);
  });
});

describe('shutdown', () => {
  it('on SIGTERM held polls answer and streams close before the process exits', async () => {
    const app = await startApp();
    const s = await spawnServer({ DATABASE_URL: testDb().url, JOBS_ENABLED: 'false' });
    try {
      const u = uid();
      const t = await app.token(u);
      const tp = await app.token(u, { device: 'poller' });
      const held = fetch(`${s.url}/v1/poll?since=0&timeout=30`, { headers: { authorization: `Bearer ${tp}` } });
      const stream = await openSse(s.url, '/v1/stream', { authorization: `Bearer ${t}` });
      await stream.waitFor(() => stream.events.some((e) => e.event === 'ready'));
      // The poll has reached the server once its device row exists (written just before it is held).
      await waitFor(async () => (await sql('SELECT 1 FROM devices WHERE tenant_id = $1 AND user_id = $2 AND device_id = $3', [app.tenant.id, u, 'poller'])).length);
      const exited = new Promise<number | null>((r) => s.child.once('exit', (code) => r(code)));
      s.child.kill('SIGTERM');
      const r = await held;
      assert.equal(r.status, 200);
      assert.deepEqual((await r.json() as { messages: unknown[] }).messages, []);
      await stream.waitFor(() => stream.closed);
      assert.equal(await exited, 0);
    } finally {
      await s.stop();
      await app.close();
    }
  });
});
