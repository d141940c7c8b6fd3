import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { spawnServer } from '../helpers/spawn.ts';

// `npm start` on its own embedded database: stop everything, start again, nothing is lost.
describe('restart on the embedded database', () => {
  let dir: string;
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mailslot-restart-'));
    await fs.chmod(dir, 0o755);
  });
  after(async () => { await fs.rm(dir, { recursive: true, force: true }); });

  it('keeps every message and cursor across a clean stop of the server and its database', async function () {
    this.timeout(90_000);
    const env = { DATABASE_URL: '', MAILSLOT_DATA_DIR: dir, MAILSLOT_DEMO: 'true', JOBS_ENABLED: 'false' };
    const call = async (url: string, p: string, init: RequestInit & { auth: string }) => {
      const r = await fetch(url + p, { ...init, headers: { authorization: `Bearer ${init.auth}`, 'content-type': 'application/json' } });
      return { status: r.status, body: await r.json() as Record<string, any> };
    };
    const s1 = await spawnServer(env);
    let key: string;
    let token: string;
    try {
      key = (await fs.readFile(path.join(dir, 'demo-key'), 'utf8')).trim();
      assert.match(s1.output(), /demo admin key: {3}msk_/);
      const tok = await call(s1.url, '/v1/tokens', { method: 'POST', auth: key, body: JSON.stringify({ user: 'bob', device: 'cli' }) });
      assert.equal(tok.status, 201);
      token = tok.body.token;
      for (let i = 1; i <= 5; i++) {
        const r = await call(s1.url, '/v1/messages', { method: 'POST', auth: key, body: JSON.stringify({ to: ['bob'], payload: { i }, dedupId: `m${i}` }) });
        assert.equal(r.status, 201);
      }
      const ack = await call(s1.url, '/v1/ack', { method: 'POST', auth: token, body: JSON.stringify({ seq: 3 }) });
      assert.equal(ack.body.acked, 3);
    } finally {
      await s1.stop();
    }
    // The embedded database stopped with the server.
    await assert.rejects(fs.access(path.join(dir, 'pg', 'pgdata', 'postmaster.pid')));

    const s2 = await spawnServer(env);
    try {
      assert.match(s2.output(), /demo admin key: {3}msk_/, 'the demo key is printed again');
      const poll = await call(s2.url, '/v1/poll?timeout=0', { auth: token });
      assert.deepEqual(poll.body.messages.map((m: { seq: number }) => m.seq), [4, 5], 'the cursor survived');
      const all = await call(s2.url, '/v1/messages?limit=10', { auth: token });
      assert.deepEqual(all.body.messages.map((m: { payload: { i: number } }) => m.payload.i), [5, 4, 3, 2, 1]);
      const dup = await call(s2.url, '/v1/messages', { method: 'POST', auth: key, body: JSON.stringify({ to: ['bob'], payload: { i: 1 }, dedupId: 'm1' }) });
      assert.equal(dup.status, 200, 'dedup ids survived too');
    } finally {
      await s2.stop();
    }
  });
});
