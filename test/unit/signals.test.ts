// Signal notifications: every recipient in exactly one notification, each under PostgreSQL's
// 8000-byte payload limit, and the receiving side reads back exactly what was sent.
import assert from 'node:assert/strict';
import { signalNotifications, parseSignalNotification, NOTIFY_MAX_BYTES, type Signal } from '../../app/services/signals.ts';

describe('signal notifications', () => {
  const json = `{"type":"typing","from":"alice","group":null,"payload":{"text":"${'x|'.repeat(2040)}"},"at":"2026-01-01T00:00:00.000Z"}`;

  it('chunk recipients by bytes: each payload < 8000 bytes, every recipient exactly once, JSON intact', () => {
    const recipients = Array.from({ length: 1000 }, (_, i) => `${String(i).padStart(4, '0')}${'u'.repeat(124)}`);
    const s: Signal = { tenantId: 't'.repeat(63), recipients, json, key: `signal:${'a'.repeat(128)}:${'b'.repeat(64)}` };
    const out = signalNotifications(s, 'abcdef012345');
    assert.ok(out.length > 1);
    const seen: string[] = [];
    for (const n of out) {
      assert.ok(Buffer.byteLength(n) <= NOTIFY_MAX_BYTES, `${Buffer.byteLength(n)} bytes`);
      const p = parseSignalNotification(n.split('|'))!;
      assert.equal(p.tenantId, s.tenantId);
      assert.equal(p.origin, 'abcdef012345');
      assert.equal(p.key, s.key);
      assert.equal(p.json, json);
      seen.push(...p.recipients);
    }
    assert.deepEqual(seen, recipients);
  });

  it('a small signal to a few users is one notification', () => {
    const out = signalNotifications({ tenantId: 't', recipients: ['a', 'b'], json: '{}', key: 'k' }, 'o');
    assert.deepEqual(out, ['s|t|o|k|a,b|{}']);
  });

  it('malformed notifications are ignored', () => {
    assert.equal(parseSignalNotification(['s', 't', 'o']), null);
    assert.equal(parseSignalNotification(['s', '', 'o', 'k', 'a', '{}']), null);
  });
});
