// The inbox reader's body cache must never make an entry look expired.
import assert from 'node:assert/strict';
import { startApp, uid, type TestApp } from '../helpers/app.ts';
import { InboxReader } from '../../app/services/reader.ts';

describe('inbox reader', () => {
  let app: TestApp;
  before(async () => { app = await startApp(); });
  after(async () => { await app.close(); });

  it('bodies found in the cache survive their eviction by the bodies fetched in the same read', async () => {
    const u = uid();
    for (let i = 0; i < 3; i++) await app.publish({ to: [u], payload: { i, pad: 'p'.repeat(1000) } });
    const one = await new InboxReader(app.service.deps.db).read(app.tenant.id, u, 0, 1);
    // Room for about one body: fetching entries 2 and 3 evicts entry 1's cached body.
    const reader = new InboxReader(app.service.deps.db, one[0]!.json.length * 2);
    assert.equal((await reader.read(app.tenant.id, u, 0, 1)).length, 1);
    const all = await reader.read(app.tenant.id, u, 0, 10);
    assert.deepEqual(all.map((e) => e.seq), [1, 2, 3]);
  });
});
