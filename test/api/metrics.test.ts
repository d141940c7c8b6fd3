// /metrics: parsed as Prometheus text, every family present, and one publish plus two polls move
// the counters and histograms by exactly what happened.
import assert from 'node:assert/strict';
import { startApp, uid, type TestApp } from '../helpers/app.ts';
import { waitFor } from '../helpers/wait.ts';
import { parsePrometheus, sumOf, type Family } from '../helpers/prometheus.ts';
import { sql } from '../helpers/db.ts';

async function scrape(app: TestApp, auth?: string): Promise<Map<string, Family>> {
  const req = app.http.get('/metrics');
  if (auth) req.set('Authorization', `Bearer ${auth}`);
  const r = await req;
  assert.equal(r.status, 200, r.text);
  assert.match(String(r.headers['content-type']), /^text\/plain/);
  return parsePrometheus(r.text);
}

/** A counter or gauge's value, or a histogram's count, summed over samples whose labels match. */
function value(fams: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  return sumOf(fams, name, labels, fams.get(name)?.type === 'histogram' ? `${name}_count` : name);
}

const FAMILIES = [
  'mailslot_http_requests_total', 'mailslot_held_connections', 'mailslot_publish_latency_seconds',
  'mailslot_delivery_latency_seconds', 'mailslot_messages_published_total', 'mailslot_messages_delivered_total',
  'mailslot_messages_acknowledged_total', 'mailslot_polls_total', 'mailslot_streams_total',
  'mailslot_oldest_unacked_age_seconds', 'mailslot_outbox_backlog', 'mailslot_dead_letters',
  'mailslot_job_runs_total', 'mailslot_job_run_duration_seconds', 'mailslot_job_last_run_timestamp_seconds',
  'mailslot_job_last_run_failed', 'mailslot_pg_pool_connections', 'mailslot_listen_connection_up',
  'mailslot_listen_connection_losses_total', 'mailslot_publish_queue', 'nodejs_eventloop_lag_seconds',
  'nodejs_eventloop_lag_p99_seconds', 'mailslot_signals_delivered_total', 'mailslot_presence_asserts_total',
  'mailslot_presence_changes_total', 'mailslot_poll_starts_total',
];

describe('metrics', () => {
  let app: TestApp;
  before(async () => { app = await startApp(); });
  after(() => app.close());

  it('exposes every family, typed as it should be', async () => {
    const fams = await scrape(app);
    for (const name of FAMILIES) assert.ok(fams.has(name), `missing family ${name}`);
    assert.equal(fams.get('mailslot_publish_latency_seconds')!.type, 'histogram');
    assert.equal(fams.get('mailslot_delivery_latency_seconds')!.type, 'histogram');
    assert.equal(fams.get('mailslot_messages_published_total')!.type, 'counter');
    assert.equal(fams.get('mailslot_held_connections')!.type, 'gauge');
    assert.equal(value(fams, 'mailslot_listen_connection_up'), 1);
    // Tables of features not in this database give no sample rather than a made-up 0.
    const [t] = await sql<{ outbox: boolean; dead: boolean }>("SELECT to_regclass('outbox') IS NOT NULL AS outbox, to_regclass('dead_letters') IS NOT NULL AS dead");
    assert.equal(fams.get('mailslot_outbox_backlog')!.samples.length, t!.outbox ? 1 : 0);
    assert.equal(fams.get('mailslot_dead_letters')!.samples.length, t!.dead ? 1 : 0);
  });

  it('one publish and two polls move the figures by exactly what happened', async () => {
    const user = uid('m');
    const token = await app.token(user, { device: 'd1' });
    const before = await scrape(app);
    const { seqs } = await app.publish({ to: [user], payload: { n: 1 } });
    assert.equal(seqs[user], 1);
    const first = await app.http.get('/v1/poll?since=0&timeout=5').set('Authorization', `Bearer ${token}`);
    assert.equal(first.body.messages.length, 1);
    // since=1 acknowledges seq 1; nothing more is waiting, so timeout=0 answers empty.
    const second = await app.http.get('/v1/poll?since=1&timeout=0').set('Authorization', `Bearer ${token}`);
    assert.equal(second.body.messages.length, 0);
    const after = await scrape(app);

    const delta = (name: string, labels: Record<string, string> = {}) => value(after, name, labels) - value(before, name, labels);
    assert.equal(delta('mailslot_messages_published_total'), 1);
    assert.equal(delta('mailslot_publish_latency_seconds'), 1);
    assert.equal(delta('mailslot_messages_delivered_total', { transport: 'poll' }), 1);
    assert.equal(delta('mailslot_messages_delivered_total', { transport: 'stream' }), 0);
    assert.equal(delta('mailslot_delivery_latency_seconds', { transport: 'poll' }), 1);
    assert.equal(delta('mailslot_messages_acknowledged_total', { via: 'poll' }), 1);
    assert.equal(delta('mailslot_polls_total', { end: 'message' }), 1);
    assert.equal(delta('mailslot_polls_total', { end: 'timeout' }), 1);
    // The second poll resumed from the first's settled answer: no start statement.
    assert.equal(delta('mailslot_poll_starts_total', { start: 'statement' }), 1);
    assert.equal(delta('mailslot_poll_starts_total', { start: 'resumed' }), 1);
    assert.equal(delta('mailslot_http_requests_total', { route: '/v1/messages', method: 'POST', status: '201' }), 1);
    assert.equal(delta('mailslot_http_requests_total', { route: '/v1/poll', status: '200' }), 2);
    // The first scrape itself is counted once it is answered.
    assert.equal(delta('mailslot_http_requests_total', { route: '/metrics', status: '200' }), 1);
    // The observations are real durations, and each landed in the +Inf bucket exactly once.
    const sum = (fams: Map<string, Family>, name: string) => sumOf(fams, name, {}, `${name}_sum`);
    assert.ok(sum(after, 'mailslot_publish_latency_seconds') > sum(before, 'mailslot_publish_latency_seconds'));
    const inf = (fams: Map<string, Family>) => sumOf(fams, 'mailslot_delivery_latency_seconds', { transport: 'poll', le: '+Inf' }, 'mailslot_delivery_latency_seconds_bucket');
    assert.equal(inf(after) - inf(before), 1);
  });

  it('an explicit ack counts the entries it newly acknowledges, not the call', async () => {
    const user = uid('a');
    const token = await app.token(user, { device: 'd1' });
    for (let i = 0; i < 3; i++) await app.publish({ to: [user], payload: { i } });
    const before = await scrape(app);
    await app.http.post('/v1/ack').set('Authorization', `Bearer ${token}`).send({ seq: 3 }).expect(200);
    await app.http.post('/v1/ack').set('Authorization', `Bearer ${token}`).send({ seq: 2 }).expect(200); // no move
    const after = await scrape(app);
    assert.equal(value(after, 'mailslot_messages_acknowledged_total', { via: 'ack' }) - value(before, 'mailslot_messages_acknowledged_total', { via: 'ack' }), 3);
  });

  it('counts held connections by transport while they are held', async () => {
    const user = uid('h');
    const token = await app.token(user, { device: 'p' });
    const pending = app.http.get('/v1/poll?timeout=30').set('Authorization', `Bearer ${token}`).then((r) => r);
    await waitFor(async () => value(await scrape(app), 'mailslot_held_connections', { transport: 'poll' }) >= 1, { what: 'held poll gauge' });
    await app.publish({ to: [user], payload: {} });
    assert.equal((await pending).status, 200);
  });
});

describe('metrics access', () => {
  let app: TestApp;
  before(async () => { app = await startApp({ METRICS_AUTH: 'key' }); });
  after(() => app.close());

  it('METRICS_AUTH=key: an admin key is needed even on loopback', async () => {
    assert.equal((await app.http.get('/metrics')).status, 401);
    assert.equal((await app.http.get('/metrics').set('Authorization', `Bearer ${app.tenant.publishKey}`)).status, 403);
    await scrape(app, app.tenant.adminKey);
  });
});

describe('metrics switched off', () => {
  let app: TestApp;
  before(async () => { app = await startApp({ METRICS_ENABLED: 'false' }); });
  after(() => app.close());

  it('answers 404 and publishing still works', async () => {
    assert.equal((await app.http.get('/metrics')).status, 404);
    await app.publish({ to: [uid()], payload: {} });
  });
});
