import assert from 'node:assert/strict';
import { PagesAhead } from '../../app/delivery/pagesAhead.ts';

describe('pages read ahead', () => {
  const page = (n: number) => () => Promise.resolve(Array.from({ length: n }, (_, i) => ({ seq: i + 1, body: '{}' })));

  it('is taken once, only by the same device asking for the same cursor and limit', async () => {
    const a = new PagesAhead();
    a.put('t', 'u', 'd', 10, 100, page(3));
    assert.equal(a.take('t', 'u', 'other', 10, 100), null);
    assert.equal((await a.take('t', 'u', 'd', 10, 100))?.length, 3);
    assert.equal(a.take('t', 'u', 'd', 10, 100), null, 'used up');
    a.put('t', 'u', 'd', 10, 100, page(3));
    assert.equal(a.take('t', 'u', 'd', 11, 100), null, 'another cursor drops it');
    assert.equal(a.take('t', 'u', 'd', 10, 100), null);
    a.put('t', 'u', 'd', 10, 100, page(3));
    assert.equal(a.take('t', 'u', 'd', 10, 50), null, 'another limit drops it');
  });

  it('expires, is bounded (oldest out), and turns a failed read into null', async () => {
    const a = new PagesAhead(2, 30);
    a.put('t', 'u', 'd', 1, 10, page(1));
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(a.take('t', 'u', 'd', 1, 10), null, 'too old');
    a.put('t', 'u1', 'd', 1, 10, page(1));
    a.put('t', 'u2', 'd', 1, 10, page(1));
    a.put('t', 'u3', 'd', 1, 10, page(1));
    assert.equal(a.size, 2);
    assert.equal(a.take('t', 'u1', 'd', 1, 10), null, 'evicted');
    a.put('t', 'bad', 'd', 1, 10, () => Promise.reject(new Error('database down')));
    assert.equal(await a.take('t', 'bad', 'd', 1, 10), null);
  });
});
