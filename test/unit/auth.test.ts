// Requests with the same credential go on in the order they arrived, even when its check is a
// database lookup whose answers could come back in any order.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { createAuthenticator } from '../../app/http/auth.ts';
import type { Pool } from '../../db/pool.ts';

describe('authentication order', () => {
  it('requests arriving while their key is being checked share that check and go on in arrival order', async () => {
    const secret = crypto.randomBytes(24).toString('base64url');
    const key = `msk_${'a1'.repeat(6)}_${secret}`;
    const row = { id: 'a1'.repeat(6), tenant_id: 't', role: 'admin', secret_hash: crypto.createHash('sha256').update(secret).digest() };
    // Each lookup answers sooner than the one before: separate lookups would finish in reverse.
    const delays = [40, 25, 10];
    let queries = 0;
    const db = { query: () => new Promise((resolve) => { queries++; setTimeout(() => resolve({ rows: [row] }), delays.shift() ?? 0); }) } as unknown as Pool;
    const auth = createAuthenticator(db, { cacheS: 0, clockSkewS: 30 });
    const order: number[] = [];
    const req = { method: 'POST', headers: { authorization: `Bearer ${key}` }, query: {} };
    await Promise.all([0, 1, 2].map((i) => auth.authenticate(req).then((p) => { assert.equal(p.tenantId, 't'); order.push(i); })));
    assert.deepEqual(order, [0, 1, 2]);
    assert.equal(queries, 1, 'one lookup for the three');
    // Once settled, a later request checks again (the cache is off here).
    await auth.authenticate(req);
    assert.equal(queries, 2);
  });

  it('a failed check fails every request that waited for it, and the next one checks afresh', async () => {
    let queries = 0;
    const db = { query: () => { queries++; return Promise.reject(new Error('database down')); } } as unknown as Pool;
    const auth = createAuthenticator(db, { cacheS: 30, clockSkewS: 30 });
    const req = { method: 'GET', headers: { authorization: `Bearer msk_${'b2'.repeat(6)}_${'x'.repeat(32)}` }, query: {} };
    const all = await Promise.allSettled([auth.authenticate(req), auth.authenticate(req)]);
    assert.deepEqual(all.map((r) => r.status), ['rejected', 'rejected']);
    assert.equal(queries, 1);
    await assert.rejects(auth.authenticate(req), /database down/);
    assert.equal(queries, 2);
  });
});
