import assert from 'node:assert/strict';
import { WaiterRegistry } from '../../app/delivery/waiters.ts';
import { Resumes } from '../../app/delivery/resumes.ts';

describe('resumes (polls from a settled answer)', () => {
  let reg: WaiterRegistry;
  let listening: boolean;
  let resumes: Resumes;
  beforeEach(() => {
    reg = new WaiterRegistry(20);
    listening = true;
    resumes = new Resumes(reg, () => listening, 3, 10_000);
  });
  afterEach(() => reg.stop());

  it('resumes from exactly the answered cursor, once', () => {
    resumes.put('t', 'u', 'd', 5, 2);
    assert.equal(resumes.take('t', 'u', 'd', 4), null, 'another cursor');
    resumes.put('t', 'u', 'd', 5, 2);
    assert.deepEqual(resumes.take('t', 'u', 'd', 5), { read: 2 });
    assert.equal(resumes.take('t', 'u', 'd', 5), null, 'used up');
    assert.equal(resumes.take('t', 'u', 'other', 5), null, 'another device');
  });

  it('a wake past the cursor, a disturbance or a lost LISTEN connection refuses it', () => {
    resumes.put('t', 'u', 'd', 5, 0);
    reg.wake('t', 'u', 5); // not past it
    reg.wake('t', 'other', 9);
    assert.ok(resumes.take('t', 'u', 'd', 5));
    resumes.put('t', 'u', 'd', 5, 0);
    reg.wake('t', 'u', 6);
    assert.equal(resumes.take('t', 'u', 'd', 5), null);
    resumes.put('t', 'u', 'd', 5, 0);
    reg.deliver('t', 'u', 6, () => [{ seq: 6, body: '{}' }]);
    assert.equal(resumes.take('t', 'u', 'd', 5), null, 'a commit of this process');
    resumes.put('t', 'u', 'd', 5, 0);
    reg.disturb('t', 'u');
    assert.equal(resumes.take('t', 'u', 'd', 5), null, 'a read marker');
    resumes.put('t', 'u', 'd', 5, 0);
    reg.disturbAll();
    assert.equal(resumes.take('t', 'u', 'd', 5), null, 'LISTEN reconnected');
    resumes.put('t', 'u', 'd', 5, 0);
    listening = false;
    assert.equal(resumes.take('t', 'u', 'd', 5), null, 'LISTEN down');
  });

  it('keeps at most `max`, oldest out, and forgets old answers', () => {
    for (const d of ['a', 'b', 'c', 'e']) resumes.put('t', 'u', d, 1, 0);
    assert.equal(resumes.size, 3);
    assert.equal(resumes.take('t', 'u', 'a', 1), null);
    assert.ok(resumes.take('t', 'u', 'e', 1));
    const old = new Resumes(reg, () => true, 10, 0);
    old.put('t', 'u', 'd', 1, 0);
    const until = Date.now() + 5;
    while (Date.now() <= until); // older than a ttl of 0
    assert.equal(old.take('t', 'u', 'd', 1), null);
  });
});
