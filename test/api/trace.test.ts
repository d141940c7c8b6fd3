// The delivery trace: a message to three users — one reads it by long poll and acknowledges, one
// gets it on a stream and does not acknowledge, one has no device yet — and the trace says exactly
// that, over HTTP and on the command line.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startApp, uid, type TestApp } from '../helpers/app.ts';
import { openSse } from '../helpers/sse.ts';
import { testDb, sql } from '../helpers/db.ts';
import { waitFor } from '../helpers/wait.ts';

const run = promisify(execFile);

interface TraceBody {
  message: { id: string; from: string; group: string | null };
  recipientCount: number;
  truncated: boolean;
  recipients: { user: string; seq: number; read: boolean; devices: { device: string; written: { at: string; transport: string }[]; acknowledged: boolean; ackedSeq: number }[] }[];
  fanout: { mode: string; state: string; total: number | null; done: number | null; finishedAt: string | null };
  deadLetters: { user: string; device: string; fromSeq: number; toSeq: number }[];
}

describe('delivery trace', () => {
  let app: TestApp;
  before(async () => { app = await startApp(); });
  after(() => app.close());

  async function trace(id: string, key = app.tenant.adminKey) {
    return app.http.get(`/v1/admin/messages/${id}/trace`).set('Authorization', `Bearer ${key}`);
  }

  it('per recipient and device: written (when, transport), acknowledged, read', async () => {
    const [alice, bob, carol] = [uid('alice'), uid('bob'), uid('carol')];
    const aliceToken = await app.token(alice, { device: 'laptop' });
    const bobToken = await app.token(bob, { device: 'phone' });
    // Bob already has an earlier message, so his seq for the traced one is 2.
    await app.publish({ to: [bob], payload: { before: true } });
    const stream = await openSse(app.url, '/v1/stream?since=1', { authorization: `Bearer ${bobToken}` });
    await stream.waitFor((c) => c.events.some((e) => e.event === 'ready'));

    const sent = await app.publish({ to: [alice, bob, carol], payload: { text: 'where is it?' } });
    const poll = await app.http.get('/v1/poll?since=0&timeout=5').set('Authorization', `Bearer ${aliceToken}`).expect(200);
    assert.equal(poll.body.messages[0].id, sent.id);
    await app.http.post('/v1/ack').set('Authorization', `Bearer ${aliceToken}`).send({ seq: 1 }).expect(200);
    await stream.waitFor((c) => c.messages().some((m) => m.id === sent.id));
    stream.close();
    await app.service.deps.ops.deliveries!.flush();

    const r = await trace(sent.id);
    assert.equal(r.status, 200, r.text);
    const t = r.body as TraceBody;
    assert.equal(t.message.id, sent.id);
    assert.equal(t.recipientCount, 3);
    assert.equal(t.truncated, false);
    assert.deepEqual(t.fanout.mode, 'inline');
    const by = new Map(t.recipients.map((x) => [x.user, x]));

    const a = by.get(alice)!;
    assert.equal(a.seq, 1);
    assert.equal(a.devices.length, 1);
    assert.equal(a.devices[0]!.device, 'laptop');
    assert.equal(a.devices[0]!.written.length, 1);
    assert.equal(a.devices[0]!.written[0]!.transport, 'poll');
    assert.ok(Date.parse(a.devices[0]!.written[0]!.at) >= Date.parse(poll.body.messages[0].createdAt));
    assert.equal(a.devices[0]!.acknowledged, true);
    assert.equal(a.read, false);

    const b = by.get(bob)!;
    assert.equal(b.seq, 2);
    assert.equal(b.devices[0]!.device, 'phone');
    assert.deepEqual(b.devices[0]!.written.map((w) => w.transport), ['stream']);
    assert.equal(b.devices[0]!.acknowledged, false);

    const c = by.get(carol)!;
    assert.equal(c.seq, 1);
    assert.deepEqual(c.devices, [], 'carol has no device: nothing was written anywhere');

    // The same from the command line, against the same database.
    const cli = await run(process.execPath, ['--import', 'tsx', 'app/cli.ts', 'trace', sent.id, '--tenant', app.tenant.id], {
      env: { ...process.env, DATABASE_URL: testDb().url },
    });
    const fromCli = JSON.parse(cli.stdout) as TraceBody;
    assert.deepEqual(fromCli.recipients, t.recipients);
  });

  it('a redelivery shows as a second write', async () => {
    const user = uid('re');
    const token = await app.token(user, { device: 'd' });
    const sent = await app.publish({ to: [user], payload: {} });
    await app.http.get('/v1/poll?since=0&timeout=0&ack=false').set('Authorization', `Bearer ${token}`).expect(200);
    await app.http.get('/v1/poll?since=0&timeout=0&ack=false').set('Authorization', `Bearer ${token}`).expect(200);
    await app.service.deps.ops.deliveries!.flush();
    const t = (await trace(sent.id)).body as TraceBody;
    assert.equal(t.recipients[0]!.devices[0]!.written.length, 2);
    assert.equal(t.recipients[0]!.devices[0]!.acknowledged, false);
  });

  it('is per tenant and for admin keys only; ids are checked', async () => {
    const sent = await app.publish({ to: [uid()], payload: {} });
    const other = await app.newTenant();
    assert.equal((await trace(sent.id, other.adminKey)).status, 404);
    assert.equal((await trace(sent.id, app.tenant.publishKey)).status, 403);
    assert.equal((await trace('not-a-uuid')).status, 400);
    assert.equal((await trace('00000000-0000-4000-8000-000000000000')).status, 404);
  });

  it('after the queued fan-out of a large group, shows it finished for every member', async function () {
    this.timeout(120_000);
    const group = uid('big');
    const members = Array.from({ length: 1500 }, (_, i) => `${group}-m${i}`);
    await app.http.put(`/v1/groups/${group}`).set('Authorization', `Bearer ${app.tenant.adminKey}`).send({ members }).expect((r) => assert.ok(r.status < 300));
    const r = await app.http.post('/v1/messages').set('Authorization', `Bearer ${app.tenant.adminKey}`).send({ group, payload: { big: true } });
    assert.equal(r.status, 202);
    const id = r.body.id as string;
    const t = await waitFor(async () => {
      const b = (await trace(id)).body as TraceBody;
      return b.fanout.state === 'done' ? b : null;
    }, { timeoutMs: 90_000, everyMs: 200, what: 'the fan-out to finish' });
    assert.equal(t.fanout.mode, 'group');
    assert.equal(t.fanout.total, 1500);
    assert.equal(t.fanout.done, 1500);
    assert.ok(t.fanout.finishedAt);
    assert.equal(t.recipientCount, 1500);
    assert.equal(t.message.group, group);
  });

  it('lists the dead letters that cover the message', async () => {
    const u = uid('dl');
    await app.publish({ to: [u], payload: { first: true } });
    const sent = await app.publish({ to: [u], payload: { second: true } });
    const other = await app.publish({ to: [u], payload: { third: true } });
    await sql(`INSERT INTO dead_letters (tenant_id, user_id, device_id, from_seq, to_seq, attempts, reason)
               VALUES ($1, $2, 'tv', 1, 2, 5, 'ack_timeout')`, [app.tenant.id, u]);
    const covered = (await trace(sent.id)).body as TraceBody;
    assert.deepEqual(covered.deadLetters.map((d) => [d.device, d.fromSeq, d.toSeq]), [['tv', 1, 2]]);
    const outside = (await trace(other.id)).body as TraceBody;
    assert.deepEqual(outside.deadLetters, []);
  });
});
