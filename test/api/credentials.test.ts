import assert from 'node:assert/strict';
import { SignJWT } from 'jose';
import { startApp, uid, type TestApp, type Tenant } from '../helpers/app.ts';

describe('tenant isolation and credentials', () => {
  let app: TestApp;
  let other: Tenant;
  before(async () => { app = await startApp(); other = await app.newTenant(); });
  after(async () => { await app.close(); });

  it('a token or key of tenant A can neither read, ack nor publish into tenant B', async () => {
    const u = uid('shared');
    // The same user name exists in both tenants.
    await app.publish({ to: [u], payload: { secret: 'B' } }, other);
    const tokenA = await app.token(u);
    const poll = await app.http.get('/v1/poll?since=0&timeout=0').set('Authorization', `Bearer ${tokenA}`);
    assert.equal(poll.status, 200);
    assert.deepEqual(poll.body.messages, [], 'A sees nothing of B');
    const hist = await app.http.get('/v1/messages').set('Authorization', `Bearer ${tokenA}`);
    assert.deepEqual(hist.body.messages, []);
    const ack = await app.http.post('/v1/ack').set('Authorization', `Bearer ${tokenA}`).send({ seq: 1 });
    assert.equal(ack.status, 400, 'seq 1 does not exist in A');
    // A's key publishes into A only.
    await app.publish({ to: [u], payload: { secret: 'A' } });
    const tokenB = await app.token(u, { tenant: other });
    const pb = await app.http.get('/v1/poll?since=0&timeout=0').set('Authorization', `Bearer ${tokenB}`);
    assert.deepEqual(pb.body.messages.map((m: { payload: { secret: string } }) => m.payload.secret), ['B']);
    const adminRead = await app.http.get(`/v1/messages?user=${u}`).set('Authorization', `Bearer ${app.tenant.adminKey}`);
    assert.deepEqual(adminRead.body.messages.map((m: { payload: { secret: string } }) => m.payload.secret), ['A']);
  });

  it('a token naming tenant B but signed with A\'s secret is 401; tokens pin HS256 and need exp', async () => {
    const secretA = (await app.service.deps.auth.tenant(app.tenant.id))!.signingSecret;
    const key = new TextEncoder().encode(secretA);
    const exp = Math.floor(Date.now() / 1000) + 600;
    const forged = await new SignJWT({ tid: other.id, scope: 'subscribe' }).setProtectedHeader({ alg: 'HS256' }).setSubject('x').setExpirationTime(exp).sign(key);
    const noExp = await new SignJWT({ tid: app.tenant.id, scope: 'subscribe' }).setProtectedHeader({ alg: 'HS256' }).setSubject('x').sign(key);
    const expired = await new SignJWT({ tid: app.tenant.id, scope: 'subscribe' }).setProtectedHeader({ alg: 'HS256' }).setSubject('x').setExpirationTime(Math.floor(Date.now() / 1000) - 3600).sign(key);
    const hs512 = await new SignJWT({ tid: app.tenant.id, scope: 'subscribe' }).setProtectedHeader({ alg: 'HS512' }).setSubject('x').setExpirationTime(exp).sign(new Uint8Array(64).fill(1));
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ tid: app.tenant.id, sub: 'x', scope: 'subscribe', exp })}.`;
    for (const [name, t] of Object.entries({ forged, noExp, expired, hs512, none, garbage: 'abc.def.ghi' })) {
      const r = await app.http.get('/v1/poll?timeout=0').set('Authorization', `Bearer ${t}`);
      assert.equal(r.status, 401, name);
      assert.equal(r.body.error, 'unauthorized');
      assert.ok(r.body.requestId);
    }
  });

  it('missing or malformed credentials are 401; a key where a token is needed is 403', async () => {
    assert.equal((await app.http.get('/v1/poll')).status, 401);
    assert.equal((await app.http.get('/v1/poll').set('Authorization', 'Basic abc')).status, 401);
    assert.equal((await app.http.get('/v1/poll').set('Authorization', 'Bearer msk_000000000000_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx')).status, 401);
    assert.equal((await app.http.get('/v1/poll').set('Authorization', `Bearer ${app.tenant.adminKey}`)).status, 403);
    assert.equal((await app.http.post('/v1/tokens').set('Authorization', `Bearer ${await app.token('x')}`).send({ user: 'y' })).status, 403);
  });

  it('?access_token= works on GET only', async () => {
    const t = await app.token(uid());
    assert.equal((await app.http.get(`/v1/poll?timeout=0&access_token=${t}`)).status, 200);
    assert.equal((await app.http.post(`/v1/ack?access_token=${t}`).send({ seq: 0 })).status, 401);
  });
});
