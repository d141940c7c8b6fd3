import assert from 'node:assert/strict';
import { BodyCache } from '../../app/services/bodyCache.ts';

describe('body cache', () => {
  const body = (n: number) => `{"id":"m${n}","pad":"${'x'.repeat(100)}"}`;

  it('keeps the newest bodies within its bytes, dropping the oldest first', () => {
    const one = new BodyCache(1e9);
    one.remember('m0', body(0));
    const each = one.bytes;
    const c = new BodyCache(each * 3);
    for (let i = 0; i < 5; i++) c.remember(`m${i}`, body(i));
    assert.equal(c.size, 3);
    assert.ok(c.bytes <= each * 3);
    assert.deepEqual([0, 1, 2, 3, 4].map((i) => c.get(`m${i}`) !== undefined), [false, false, true, true, true]);
    assert.equal(c.get('m4'), body(4));
  });

  it('a body remembered twice counts once; a cache of 0 bytes keeps nothing and says so', () => {
    const c = new BodyCache(1e6);
    c.remember('a', body(1));
    const b = c.bytes;
    c.remember('a', body(1));
    assert.equal(c.bytes, b);
    assert.equal(c.size, 1);
    const off = new BodyCache(0);
    off.remember('a', body(1));
    assert.equal(off.size, 0);
    assert.ok(off.disabled && !c.disabled);
  });

  it('does not keep a large body (it would push out many small ones for little gain)', () => {
    const c = new BodyCache(1e9);
    c.remember('big', `{"pad":"${'x'.repeat(10_000)}"}`);
    c.remember('small', body(1));
    assert.equal(c.get('big'), undefined);
    assert.equal(c.get('small'), body(1));
  });
});
