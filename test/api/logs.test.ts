// Request logs: captured from a real service, one JSON line per request with request id, tenant,
// user, device, route, status and duration; a line per poll/stream end saying how it ended; and no
// credential anywhere in the output, whether it came in a header or in ?access_token=.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../app/service.ts';
import { sanitizeUrl } from '../../app/http/logging.ts';
import { startApp, uid, type TestApp } from '../helpers/app.ts';
import { openSse } from '../helpers/sse.ts';
import { waitFor } from '../helpers/wait.ts';

type Line = Record<string, unknown> & { msg: string; reqId?: string; route?: string };

describe('request logs', () => {
  let app: TestApp;
  let out = '';
  const lines = (): Line[] => out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);
  const capture = new Writable({ write(chunk, _enc, cb) { out += chunk.toString(); cb(); } });

  before(async () => {
    app = await startApp({ STREAM_MAX_LIFETIME_S: '1' }, {}, createLogger('info', capture));
  });
  after(() => app.close());

  it('never writes a token or an API key, from the header or from ?access_token=', async () => {
    const user = uid('r');
    const token = await app.token(user, { device: 'phone' });
    await app.publish({ to: [user], payload: { t: 1 } });
    await app.http.get('/v1/poll?since=0&timeout=0').set('Authorization', `Bearer ${token}`).expect(200);
    await app.http.get(`/v1/poll?since=1&timeout=0&access_token=${encodeURIComponent(token)}`).expect(200);
    // A refused credential is logged too, and must not leak either.
    await app.http.get(`/v1/poll?access_token=${token}x`).expect(401);
    await app.http.get('/v1/poll').set('Authorization', `Bearer ${app.tenant.adminKey}`).expect(403);
    const s = await openSse(app.url, `/v1/stream?since=0&access_token=${token}`);
    await s.waitFor((c) => c.closed, 10_000); // the 1 s lifetime ends it
    await waitFor(() => lines().some((l) => l.msg === 'stream ended: lifetime'), { what: 'stream end line' });

    assert.ok(out.length > 0);
    // msk_<12 hex>_<secret>: the secret itself may contain '_', so cut after the fixed-length id.
    const secret = (k: string) => k.slice('msk_'.length + 12 + 1);
    for (const needle of [token, token.split('.')[2]!, app.tenant.adminKey, secret(app.tenant.adminKey)]) {
      assert.ok(!out.includes(needle), `a credential leaked into the log: …${needle.slice(-12)}`);
    }
    const urls = lines().map((l) => (l.req as { url?: string } | undefined)?.url).filter(Boolean);
    assert.ok(urls.some((u) => u!.includes('access_token=[redacted]')), 'the URL is logged, masked');
  });

  it('one line per request with id, tenant, user, device, route, status and duration', async () => {
    const user = uid('l');
    const token = await app.token(user, { device: 'tablet' });
    const r = await app.http.get('/v1/poll?timeout=0').set('Authorization', `Bearer ${token}`).set('X-Request-Id', 'trace-me-42').expect(200);
    assert.equal(r.headers['x-request-id'], 'trace-me-42');
    const mine = await waitFor(() => lines().filter((l) => l.reqId === 'trace-me-42'), { what: 'log line' }).then((ls) => ls);
    assert.equal(mine.length, 1, 'exactly one line for the request');
    const l = mine[0]!;
    assert.equal(l.tenant, app.tenant.id);
    assert.equal(l.user, user);
    assert.equal(l.device, 'tablet');
    assert.equal(l.route, '/v1/poll');
    assert.equal((l.res as { status: number }).status, 200);
    assert.equal(typeof l.responseTime, 'number');
    assert.equal(l.end, 'timeout');
    assert.equal(l.msg, 'poll ended: timeout');
  });

  it('says how each poll ended: message, superseded, closed', async () => {
    const user = uid('e');
    const token = await app.token(user, { device: 'd' });
    const first = app.http.get('/v1/poll?timeout=30').set('Authorization', `Bearer ${token}`).set('X-Request-Id', 'p-superseded').then((x) => x);
    await waitFor(() => app.service.deps.registry.polls === 1, { what: 'first poll held' });
    const second = app.http.get('/v1/poll?timeout=30').set('Authorization', `Bearer ${token}`).set('X-Request-Id', 'p-message').then((x) => x);
    assert.equal((await first).body.superseded, true);
    await waitFor(() => app.service.deps.registry.polls === 1, { what: 'second poll held' });
    await app.publish({ to: [user], payload: {} });
    assert.equal((await second).body.messages.length, 1);
    const byId = (id: string) => lines().find((l) => l.reqId === id);
    await waitFor(() => byId('p-message') && byId('p-superseded'), { what: 'end lines' });
    assert.equal(byId('p-superseded')!.end, 'superseded');
    assert.equal(byId('p-message')!.end, 'message');
    assert.equal(byId('p-message')!.delivered, 1);

    // A client that goes away while held.
    const controller = new AbortController();
    const gone = fetch(`${app.url}/v1/poll?since=1&timeout=30`, { headers: { Authorization: `Bearer ${token}`, 'X-Request-Id': 'p-closed' }, signal: controller.signal }).catch(() => null);
    await waitFor(() => app.service.deps.registry.polls === 1, { what: 'third poll held' });
    controller.abort();
    await gone;
    await waitFor(() => byId('p-closed'), { what: 'closed line' });
    assert.equal(byId('p-closed')!.end, 'closed');
  });

  it('sanitizeUrl masks credentials in any position', () => {
    assert.equal(sanitizeUrl('/v1/stream?access_token=abc.def.ghi&since=3'), '/v1/stream?access_token=[redacted]&since=3');
    assert.equal(sanitizeUrl('/x?since=1&ACCESS_TOKEN=zzz'), '/x?since=1&ACCESS_TOKEN=[redacted]');
    assert.equal(sanitizeUrl('/x/msk_abc_def'), '/x/msk_[redacted]');
    assert.equal(sanitizeUrl('/x?t=eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl'), '/x?t=[redacted-jwt]');
  });
});
