// Property-based fuzzing of every endpoint (read from the app's router, so new ones are included): random bodies, query strings, headers and credentials
// (valid ones too, so requests get past authentication), and raw garbage bytes on the socket.
// Whatever arrives: no 5xx, no crash, no unhandled rejection. Bounded in time (~20 s).
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import fc from 'fast-check';
import { startApp, uid, type TestApp } from '../helpers/app.ts';
import { appRoutes } from '../helpers/routes.ts';

interface FuzzRequest {
  method: string;
  path: string;
  query: [string, string][];
  headers: Record<string, string>;
  cred: string | null;
  body: Buffer | null;
}

const PARAMS = ['since', 'timeout', 'limit', 'ack', 'before', 'after', 'type', 'match', 'user', 'padding', 'access_token', 'users'];

const ascii = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 40 });
const anyText = fc.string({ unit: 'binary', maxLength: 60 });
const numberish = fc.oneof(fc.integer({ min: -5, max: 2 ** 53 + 10 }).map(String), fc.constantFrom('', '1e3', '0x10', '-0', '1.5', 'NaN', 'true', '99999999999999999999'));
const jsonText = fc.oneof(fc.json({ maxDepth: 4 }), fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify({ a: v })));

function requests(creds: string[], routes: [string, string][]): fc.Arbitrary<FuzzRequest> {
  const id = fc.oneof(fc.constantFrom('bob', 'alice', '', 'a'.repeat(129), '__proto__', 'x|y'), ascii);
  const message = fc.record({
    to: fc.oneof(fc.array(id, { maxLength: 4 }), anyText, fc.constant(null)),
    group: id, from: id, type: fc.oneof(id, fc.integer()),
    payload: fc.oneof(fc.jsonValue({ maxDepth: 4 }), fc.object({ maxDepth: 3 })),
    dedupId: fc.oneof(ascii, fc.integer()), ttlSeconds: fc.oneof(fc.integer(), fc.double(), ascii),
  }, { requiredKeys: [] });
  const body = fc.oneof(
    // Valid at the core, random in the payload: these get stored.
    fc.record({ to: fc.constant(['bob']), payload: fc.object({ maxDepth: 3 }) }).map((m) => Buffer.from(JSON.stringify(m))),
    message.map((m) => Buffer.from(JSON.stringify(m))),
    fc.array(message, { maxLength: 5 }).map((messages) => Buffer.from(JSON.stringify({ messages }))),
    fc.record({ user: id, device: id, ttlSeconds: fc.oneof(fc.integer(), ascii), scope: fc.oneof(ascii, fc.constantFrom('subscribe', 'subscribe publish')) }, { requiredKeys: [] })
      .map((t) => Buffer.from(JSON.stringify(t))),
    fc.record({ seq: fc.oneof(fc.integer(), fc.double(), ascii, fc.constant(null)) }, { requiredKeys: [] }).map((a) => Buffer.from(JSON.stringify(a))),
    jsonText.map((s) => Buffer.from(s)),
    anyText.map((s) => Buffer.from(s)),
    fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
    fc.integer({ min: 1, max: 5000 }).map((n) => Buffer.from('['.repeat(n) + ']'.repeat(n))),
    fc.integer({ min: 1, max: 200 }).map((n) => Buffer.from(`{"to":["x"],"payload":${'{"a":'.repeat(n)}1${'}'.repeat(n)}}`)),
    fc.constant(null),
  );
  const param = fc.tuple(fc.oneof(fc.constantFrom(...PARAMS), ascii), fc.oneof(numberish, ascii, anyText, jsonText));
  const headers = fc.record({
    'content-type': fc.constantFrom('application/json', 'application/json; charset=utf-8', 'application/json; charset=latin1', 'text/plain', 'application/x-www-form-urlencoded', 'application/merge-patch+json', ''),
    'idempotency-key': ascii, 'last-event-id': fc.oneof(numberish, ascii), 'x-request-id': ascii, origin: ascii, 'accept-encoding': fc.constantFrom('gzip', 'br', 'identity'),
    'content-encoding': fc.constantFrom('gzip', 'deflate', 'identity', 'x-bogus'),
  }, { requiredKeys: [] });
  const cred = fc.oneof(
    fc.constantFrom(...creds), fc.constant(null), ascii.map((s) => `msk_${s}`), ascii,
    fc.tuple(ascii, ascii, ascii).map(([a, b, c]) => `${Buffer.from(a).toString('base64url')}.${Buffer.from(b).toString('base64url')}.${c}`),
  );
  return fc.record({
    route: fc.oneof({ weight: 9, arbitrary: fc.tuple(fc.constantFrom(...routes), id).map(([[m, p], x]) => [m, p.replace(/:[A-Za-z]+/g, encodeURIComponent(x) || 'x')] as const) }, { weight: 1, arbitrary: fc.tuple(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'), ascii.map((p) => `/${encodeURI(p)}`)) }),
    query: fc.array(param, { maxLength: 5 }), headers, cred, body,
  }).map(({ route, query, headers, cred, body }) => ({ method: route[0], path: route[1], query, headers, cred, body }));
}

function send(url: string, r: FuzzRequest, agent: http.Agent): Promise<number> {
  const u = new URL(url);
  const qs = r.query.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  const headers: Record<string, string> = { ...r.headers };
  if (r.cred !== null) headers.authorization = `Bearer ${r.cred}`;
  if (r.body) headers['content-length'] = String(r.body.length);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method: r.method, path: r.path + (qs ? `?${qs}` : ''), headers, agent }, (res) => {
      // A stream stays open: its status is all this test needs.
      if (String(res.headers['content-type']).startsWith('text/event-stream')) {
        req.destroy();
        resolve(res.statusCode!);
        return;
      }
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', reject);
    req.end(r.body ?? undefined);
  });
}

describe('fuzzing every endpoint', () => {
  let app: TestApp;
  const rejections: unknown[] = [];
  const onRejection = (e: unknown) => { rejections.push(e); };
  before(async () => {
    app = await startApp({
      POLL_TIMEOUT_DEFAULT_S: '1', POLL_TIMEOUT_MAX_S: '1',
      RATE_PUBLISH_DEVICE_PER_S: '100000', RATE_CONNECT_DEVICE_PER_S: '100000', STREAMS_PER_DEVICE_MAX: '1000', STREAMS_PER_USER_MAX: '1000',
    });
    process.on('unhandledRejection', onRejection);
  });
  after(async () => {
    process.off('unhandledRejection', onRejection);
    await app.close();
  });

  it('random requests: never a 5xx, never a dropped connection, never an unhandled rejection', async function () {
    this.timeout(60_000);
    const creds = [app.tenant.adminKey, app.tenant.publishKey, await app.token('bob'), await app.token('bob', { publish: true, device: 'fuzz' }), await app.token(uid())];
    await app.publish({ to: ['bob'], payload: { seeded: true } });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    let sent = 0;
    const seen = new Map<number, number>();
    const routes = appRoutes(app.service.deps);
    assert.ok(routes.length >= 8);
    await fc.assert(fc.asyncProperty(fc.array(requests(creds, routes), { minLength: 1, maxLength: 6 }), async (batch) => {
      const statuses = await Promise.all(batch.map((r) => send(app.url, r, agent).catch((e: Error) => e.message)));
      sent += batch.length;
      statuses.forEach((s, i) => {
        if (typeof s === 'string' || s >= 500) throw new Error(`${s} for ${JSON.stringify({ ...batch[i], body: batch[i]!.body?.toString('utf8').slice(0, 300) })}`);
        seen.set(s, (seen.get(s) ?? 0) + 1);
      });
    }), { numRuns: 1500, interruptAfterTimeLimit: 16_000, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31) });
    agent.destroy();
    assert.ok(sent >= 1000, `only ${sent} requests in the time limit`);
    assert.deepEqual(rejections, []);
    assert.equal((await app.http.get('/readyz')).status, 200);
    console.log(`      ${sent} random requests; statuses ${JSON.stringify(Object.fromEntries([...seen].sort((a, b) => a[0] - b[0])))}`);
  });

  it('raw garbage on the socket: answered 4xx or closed, the server stays up', async function () {
    this.timeout(30_000);
    const { hostname, port } = new URL(app.url);
    let n = 0;
    await fc.assert(fc.asyncProperty(
      fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 400 }).map((b) => Buffer.from(b)),
        fc.tuple(ascii, ascii, anyText).map(([m, p, h]) => Buffer.from(`${m} /${p} HTTP/1.1\r\nHost: x\r\n${h}\r\n\r\n`, 'latin1'))),
      async (bytes) => {
        n++;
        const reply = await new Promise<string>((resolve) => {
          const s = net.connect(Number(port), hostname, () => s.end(bytes));
          let got = '';
          s.setEncoding('latin1');
          s.on('data', (d: string) => { got += d; });
          s.on('error', () => undefined);
          s.on('close', () => resolve(got));
          s.setTimeout(5000, () => s.destroy());
        });
        const status = /^HTTP\/1\.[01] (\d{3})/.exec(reply)?.[1];
        if (status && Number(status) >= 500) throw new Error(`${status} for ${JSON.stringify(bytes.toString('latin1'))}`);
      },
    ), { numRuns: 400, interruptAfterTimeLimit: 6000 });
    assert.ok(n >= 100);
    assert.equal((await app.http.get('/healthz')).status, 200);
    assert.deepEqual(rejections, []);
  });
});
