// The inbox reader's body cache must never make an entry look expired.
import assert from 'node:assert/strict';
import { startApp, uid, type TestApp } from '../helpers/app.ts';
import { InboxReader } from '../../app/services/reader.ts';
import { BodyCache } from '../../app/services/bodyCache.ts';

describe('inbox reader', () => {
  let app: TestApp;
  before(async () => { app = await startApp(); });
  after(async () => { await app.close(); });

  it('bodies found in the cache survive their eviction by the bodies fetched in the same read', async () => {
    const u = uid();
    for (let i = 0; i < 3; i++) await app.publish({ to: [u], payload: { i, pad: 'p'.repeat(1000) } });
    const one = await new InboxReader(app.service.deps.db).read(app.tenant.id, u, 0, 1);
    // Room for one body (with its overhead): fetching entries 2 and 3 evicts entry 1's cached body.
    const reader = new InboxReader(app.service.deps.db, new BodyCache(one[0]!.body.length * 2 + 200));
    assert.equal((await reader.read(app.tenant.id, u, 0, 1)).length, 1);
    const all = await reader.read(app.tenant.id, u, 0, 10);
    assert.deepEqual(all.map((e) => e.seq), [1, 2, 3]);
  });
});
