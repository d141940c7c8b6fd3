// The README's curl walk-through and its poll.sh loop, run with bash against a live spawned server:
// the docs cannot drift from what the server does.
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { createTenant } from '../../app/services/credentials.ts';
import { spawnServer, type ServerProcess } from '../helpers/spawn.ts';
import { testDb } from '../helpers/db.ts';
import { uid } from '../helpers/app.ts';
import { waitFor } from '../helpers/wait.ts';
import { PUBLIC_DIR } from '../../app/http/routes/pages.ts';

const README = fs.readFileSync(path.join(PUBLIC_DIR, '..', 'README.md'), 'utf8');

/** The first ```sh block after `marker`. */
export function shBlock(marker: string): string {
  const at = README.indexOf(marker);
  assert.ok(at >= 0, `README has no "${marker}"`);
  const m = /```sh\n([\s\S]*?)```/.exec(README.slice(at));
  assert.ok(m, `no sh block after "${marker}"`);
  return m[1]!;
}

function bash(script: string, env: Record<string, string>): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('bash', ['-c', script], { env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: stdout + stderr });
    });
  });
}

describe('README: curl walk-through and poll.sh against a live server', function () {
  this.timeout(90_000);
  let server: ServerProcess;
  let key: string;
  let url: string;
  before(async () => {
    server = await spawnServer({ DATABASE_URL: testDb().url, JOBS_ENABLED: 'false' });
    url = server.url;
    const c = new pg.Client({ connectionString: testDb().url });
    await c.connect();
    try {
      key = (await createTenant(c, uid('readme'), 86400))!.adminKey;
    } finally {
      await c.end();
    }
  });
  after(async () => { await server.stop(); });

  it('the walk-through runs as written and each step answers what the README says', async () => {
    const block = shBlock('## Walk-through with curl');
    // The walk-through's own URL= and KEY= lines are the only lines replaced.
    assert.match(block, /^URL=.*$/m);
    assert.match(block, /^KEY=.*$/m);
    const script = block.replace(/^URL=.*$/m, `URL='${url}'`).replace(/^KEY=.*$/m, `KEY='${key}'`);
    const { out } = await bash(script, {});
    assert.match(out, /"seqs":\{"bob":1\}/, out);
    assert.match(out, /"duplicate":false/);
    assert.match(out, /\{"messages":\[\{"seq":1,[^\n]*"payload":\{"text": ?"hi bob"\}[^\n]*"next":1,"more":false,"read":0\}/);
    assert.match(out, /\{"messages":\[\],"next":1,"more":false/, 'the second poll (since=1) is empty');
    assert.match(out, /event: ready\ndata: \{"since":0,"head":1\}/);
    assert.match(out, /id: 1\nevent: message\ndata: \{"seq":1,/);
    assert.match(out, /\{"acked":1\}/);
  });

  it('poll.sh receives what is published, in order, and nothing twice', async () => {
    const loop = shBlock('A shell loop that never loses a message');
    const user = uid('sh');
    const tokenRes = await fetch(`${url}/v1/tokens`, {
      method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ user }),
    });
    const { token } = await tokenRes.json() as { token: string };
    // Its own process group, so the loop and its curl are stopped together, by pid.
    const child = spawn('bash', ['-c', loop], { env: { ...process.env, URL: url, TOKEN: token }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (b) => { out += b; });
    child.stderr!.on('data', (b) => { out += b; });
    const publish = async (n: number) => {
      const r = await fetch(`${url}/v1/messages`, {
        method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ to: [user], payload: { n } }),
      });
      assert.equal(r.status, 201);
    };
    try {
      await publish(1);
      await waitFor(() => out.includes('"n":1'), { what: 'poll.sh to print the first message' });
      for (let n = 2; n <= 5; n++) await publish(n);
      await waitFor(() => out.includes('"n":5'), { what: 'poll.sh to print five messages' });
      const lines = out.trim().split('\n').map((l) => JSON.parse(l) as { seq: number; payload: { n: number } });
      assert.deepEqual(lines.map((l) => l.seq), [1, 2, 3, 4, 5]);
      assert.deepEqual(lines.map((l) => l.payload.n), [1, 2, 3, 4, 5]);
    } finally {
      if (child.exitCode === null) process.kill(-child.pid!, 'SIGTERM');
    }
  });
});
