import assert from 'node:assert/strict';
import { messageId } from '../../app/services/messageId.ts';

describe('message ids (UUIDv7)', () => {
  it('are RFC 9562 version 7 with the RFC variant, and carry their millisecond', () => {
    const t = Date.UTC(2026, 11, 6, 9, 30, 0, 123);
    const id = messageId(t);
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(parseInt(id.slice(0, 8) + id.slice(9, 13), 16), t);
  });

  it('sort by time across milliseconds and do not repeat within one', () => {
    const ids = Array.from({ length: 50 }, (_, i) => messageId(1_800_000_000_000 + i));
    assert.deepEqual([...ids].sort(), ids);
    const same = new Set(Array.from({ length: 10_000 }, () => messageId(1_800_000_000_000)));
    assert.equal(same.size, 10_000);
  });
});
