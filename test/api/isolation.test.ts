// Isolation sweep: for every endpoint, the credentials of tenant A (admin key, publish key, client
// token) never see or change tenant B's data — even where both tenants have a user and a device of
// the same name. Table-driven: a new endpoint adds a row to SWEEP; the last test fails for any
// route of the app that has no row.
import assert from 'node:assert/strict';
import { startApp, type TestApp, type Tenant } from '../helpers/app.ts';
import { sql } from '../helpers/db.ts';
import { openSse } from '../helpers/sse.ts';
import { appRoutes } from '../helpers/routes.ts';

const USER = 'shared-user';
const DEVICE = 'shared-device';
const B_MARK = 'secret-of-tenant-b';
const A_MARK = 'visible-to-tenant-a';
const GROUP = 'shared-group';

interface Creds { admin: string; publish: string; token: string; publishToken: string }
interface Attempt { status: number; text: string }
interface Ctx { app: TestApp; a: Creds; bMessageId: string; bHead: number; bDeadLetter: string; bToken: string; bAdmin: string }

/** Each row: the route, and the requests tenant A's credentials make at it, aimed at B's data. */
const SWEEP: Record<string, (c: Ctx) => Promise<Attempt[]>> = {
  'GET /healthz': async ({ app }) => [await get(app, '/healthz')],
  'GET /readyz': async ({ app }) => [await get(app, '/readyz')],
  'POST /v1/tokens': async ({ app, a }) => {
    const r = await post(app, '/v1/tokens', a.admin, { user: USER, device: DEVICE });
    const token = JSON.parse(r.text).token as string;
    assert.equal(JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).tid, app.tenant.id, 'minted in A');
    return [r, await get(app, '/v1/poll?since=0&timeout=0', token)];
  },
  'POST /v1/messages': async ({ app, a }) => [
    await post(app, '/v1/messages', a.admin, { to: [USER], payload: { n: 1 } }),
    await post(app, '/v1/messages', a.publish, { to: [USER], from: USER, payload: { n: 2 } }),
    await post(app, '/v1/messages', a.publishToken, { to: [USER], payload: { n: 3 } }),
  ],
  'POST /v1/messages/batch': async ({ app, a }) => [
    await post(app, '/v1/messages/batch', a.admin, { messages: [{ to: [USER], payload: {} }, { to: [USER], from: USER, payload: {} }] }),
    await post(app, '/v1/messages/batch', a.publishToken, { messages: [{ to: [USER], payload: {} }] }),
  ],
  'GET /v1/messages': async ({ app, a }) => {
    const mine = await get(app, '/v1/messages?limit=1000', a.token);
    assert.ok(mine.text.includes(A_MARK), 'the control: A sees its own message');
    return [
      mine,
      await get(app, `/v1/messages?user=${USER}&limit=1000`, a.admin),
      await get(app, `/v1/messages?match=${encodeURIComponent(JSON.stringify({ mark: B_MARK }))}`, a.token),
    ];
  },
  'GET /v1/poll': async ({ app, a, bHead }) => {
    const r = await get(app, '/v1/poll?since=0&timeout=0&limit=1000', a.token);
    assert.ok(r.text.includes(A_MARK), 'the control: A polls its own message');
    // A cursor that exists only in B's inbox is beyond A's head.
    return [r, await get(app, `/v1/poll?since=${bHead}&timeout=0`, a.token)];
  },
  'GET /v1/stream': async ({ app, a }) => {
    const s = await openSse(app.url, '/v1/stream?since=0', { authorization: `Bearer ${a.token}` });
    await s.waitFor((c) => c.raw.includes(A_MARK));
    const head = JSON.parse(s.events.find((e) => e.event === 'ready')!.data).head as number;
    await s.waitFor((c) => c.messages().length >= head);
    s.close();
    return [{ status: s.status, text: s.raw }];
  },
  'POST /v1/ack': async ({ app, a, bHead }) => [
    await post(app, '/v1/ack', a.token, { seq: 1 }),
    await post(app, '/v1/ack', a.token, { seq: bHead }),
  ],
  'POST /v1/read': async ({ app, a, bHead }) => [
    await post(app, '/v1/read', a.token, { seq: 1 }),
    await post(app, '/v1/read', a.token, { seq: bHead }),
  ],
  'GET /v1/devices': async ({ app, a }) => [await get(app, '/v1/devices', a.token), await get(app, `/v1/devices?user=${USER}`, a.admin)],
  'GET /v1/messages/:id': async ({ app, a, bMessageId }) => {
    const rs = [await get(app, `/v1/messages/${bMessageId}`, a.admin), await get(app, `/v1/messages/${bMessageId}`, a.publishToken)];
    for (const r of rs) assert.equal(r.status, 404);
    return rs;
  },
  'PUT /v1/groups/:group': async ({ app, a }) => [await put(app, `/v1/groups/${GROUP}`, a.admin, { members: [USER] })],
  'POST /v1/groups/:group/members': async ({ app, a }) => [await post(app, `/v1/groups/${GROUP}/members`, a.admin, { users: [USER, 'extra'] })],
  'DELETE /v1/groups/:group/members/:user': async ({ app, a }) => [await del(app, `/v1/groups/${GROUP}/members/${USER}`, a.admin)],
  'GET /v1/groups/:group': async ({ app, a }) => [await get(app, `/v1/groups/${GROUP}`, a.admin)],
  'GET /v1/admin/stats': async ({ app, a }) => [await get(app, '/v1/admin/stats', a.admin)],
  'GET /v1/admin/dead-letters': async ({ app, a }) => [await get(app, '/v1/admin/dead-letters?state=all', a.admin)],
  'POST /v1/admin/dead-letters/:id/retry': async ({ app, a, bDeadLetter }) => {
    const r = await post(app, `/v1/admin/dead-letters/${bDeadLetter}/retry`, a.admin, {});
    assert.equal(r.status, 404);
    return [r];
  },
  'POST /v1/admin/dead-letters/:id/discard': async ({ app, a, bDeadLetter }) => {
    const r = await post(app, `/v1/admin/dead-letters/${bDeadLetter}/discard`, a.admin, {});
    assert.equal(r.status, 404);
    return [r];
  },
  'GET /openapi.json': async ({ app }) => [await get(app, '/openapi.json')],
  'GET /metrics': async ({ app }) => [await get(app, '/metrics')],
  'GET /v1/admin/messages/:id/trace': async ({ app, a, bMessageId }) => {
    const r = await get(app, `/v1/admin/messages/${bMessageId}/trace`, a.admin);
    assert.equal(r.status, 404);
    return [r];
  },
  'GET /v1/admin/overview': async ({ app, a }) => [await get(app, '/v1/admin/overview', a.admin)],
  'GET /v1/admin/job-runs': async ({ app, a }) => [await get(app, '/v1/admin/job-runs?limit=200', a.admin)],
  'GET /v1/admin/users/:user/devices': async ({ app, a }) => [await get(app, `/v1/admin/users/${USER}/devices`, a.admin)],
  'POST /v1/signals': async ({ app, a, bToken, bAdmin }) => {
    // B's user of the same name holds a stream: A's signals must not reach it.
    const s = await openSse(app.url, '/v1/stream', { authorization: `Bearer ${bToken}` });
    await s.waitFor((c) => c.events.some((e) => e.event === 'ready'));
    const rs = [
      await post(app, '/v1/signals', a.admin, { to: [USER], type: 'probe', payload: { n: 1 } }),
      await post(app, '/v1/signals', a.publishToken, { to: [USER], type: 'probe', payload: { n: 2 } }),
      await post(app, '/v1/signals', a.admin, { group: GROUP, type: 'probe', payload: { n: 3 } }),
    ];
    // B's own marker, sent after A's signals, arrives after anything of theirs would have.
    await post(app, '/v1/signals', bAdmin, { to: [USER], type: 'marker', payload: {} });
    await s.waitFor((c) => c.events.some((e) => e.event === 'signal'));
    const got = s.events.filter((e) => e.event === 'signal').map((e) => JSON.parse(e.data).type);
    s.close();
    assert.deepEqual(got, ['marker'], "A's signals reached B's user");
    return rs;
  },
  'GET /v1/presence': async ({ app, a }) => [
    await get(app, `/v1/presence?users=${USER}`, a.token),
    await get(app, `/v1/presence?users=${USER}`, a.admin),
  ],
};

async function put(app: TestApp, path: string, cred: string, body: unknown): Promise<Attempt> {
  const r = await app.http.put(path).set('Authorization', `Bearer ${cred}`).send(body as object);
  return { status: r.status, text: r.text };
}

async function del(app: TestApp, path: string, cred: string): Promise<Attempt> {
  const r = await app.http.delete(path).set('Authorization', `Bearer ${cred}`);
  return { status: r.status, text: r.text };
}

async function get(app: TestApp, path: string, cred?: string): Promise<Attempt> {
  const req = app.http.get(path);
  if (cred) req.set('Authorization', `Bearer ${cred}`);
  const r = await req;
  return { status: r.status, text: r.text };
}

async function post(app: TestApp, path: string, cred: string, body: unknown): Promise<Attempt> {
  const r = await app.http.post(path).set('Authorization', `Bearer ${cred}`).send(body as object);
  return { status: r.status, text: r.text };
}

/** Everything tenant B has, as text: any change by A shows up as a difference. */
async function snapshot(tenantId: string): Promise<string> {
  const [row] = await sql<{ s: string }>(`SELECT json_build_object(
      'messages', (SELECT json_agg(m ORDER BY m.id) FROM messages m WHERE m.tenant_id = $1),
      'entries', (SELECT json_agg(e ORDER BY e.user_id, e.seq) FROM inbox_entries e WHERE e.tenant_id = $1),
      'inboxes', (SELECT json_agg(i ORDER BY i.user_id) FROM inboxes i WHERE i.tenant_id = $1),
      'devices', (SELECT json_agg(json_build_object('u', d.user_id, 'd', d.device_id, 'acked', d.acked_seq) ORDER BY d.user_id, d.device_id) FROM devices d WHERE d.tenant_id = $1),
      'keys', (SELECT json_agg(k.id ORDER BY k.id) FROM api_keys k WHERE k.tenant_id = $1),
      'groups', (SELECT json_agg(g ORDER BY g.group_id) FROM groups g WHERE g.tenant_id = $1),
      'members', (SELECT json_agg(json_build_object('g', m.group_id, 'u', m.user_id) ORDER BY m.group_id, m.user_id) FROM group_members m WHERE m.tenant_id = $1),
      'deadLetters', (SELECT json_agg(json_build_object('id', d.id, 'state', d.state) ORDER BY d.id) FROM dead_letters d WHERE d.tenant_id = $1)
    )::text AS s`, [tenantId]);
  return row!.s;
}

describe('tenant isolation sweep', () => {
  let app: TestApp;
  let b: Tenant;
  const ctx = {} as Ctx;
  before(async () => {
    app = await startApp();
    b = await app.newTenant();
    // B: the same user and device names, messages, a cursor.
    for (let i = 0; i < 5; i++) ctx.bMessageId = (await app.publish({ to: [USER], from: USER, payload: { mark: B_MARK, i } }, b)).id;
    await app.http.put(`/v1/groups/${GROUP}`).set('Authorization', `Bearer ${b.adminKey}`).send({ members: [USER, B_MARK] }).expect((r) => assert.ok(r.status < 300));
    const [dl] = await sql<{ id: string }>(`INSERT INTO dead_letters (tenant_id, user_id, device_id, from_seq, to_seq, attempts, reason)
      VALUES ($1, $2, $3, 3, 5, 5, $4) RETURNING id::text`, [b.id, USER, DEVICE, B_MARK]);
    ctx.bDeadLetter = dl!.id;
    const bToken = await app.token(USER, { device: DEVICE, tenant: b });
    ctx.bToken = bToken;
    ctx.bAdmin = b.adminKey;
    await app.http.post('/v1/ack').set('Authorization', `Bearer ${bToken}`).send({ seq: 2 });
    ctx.bHead = 5;
    // A: one message of its own, so that "sees nothing of B" is not "sees nothing at all".
    await app.publish({ to: [USER], payload: { mark: A_MARK } });
    ctx.app = app;
    ctx.a = {
      admin: app.tenant.adminKey, publish: app.tenant.publishKey,
      token: await app.token(USER, { device: DEVICE }), publishToken: await app.token(USER, { device: DEVICE, publish: true }),
    };
  });
  after(async () => { await app.close(); });

  for (const [route, attempt] of Object.entries(SWEEP)) {
    it(`${route}: tenant A's credentials neither see nor change tenant B's data`, async () => {
      const before = await snapshot(b.id);
      const results = await attempt(ctx);
      for (const r of results) {
        assert.ok(r.status < 500, `${route}: ${r.status} ${r.text}`);
        assert.ok(!r.text.includes(B_MARK), `${route} revealed B's data: ${r.text.slice(0, 200)}`);
        assert.ok(!r.text.includes(b.id), `${route} named tenant B`);
      }
      assert.equal(await snapshot(b.id), before, `${route} changed tenant B's data`);
    });
  }

  it('every route of the app has a row in the sweep', () => {
    const routes = appRoutes(app.service.deps).map(([m, p]) => `${m} ${p}`);
    assert.ok(routes.length >= 8);
    assert.deepEqual(routes.filter((r) => !(r in SWEEP)), [], 'routes without an isolation row');
  });
});
