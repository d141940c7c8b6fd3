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

describe('notices on a stalled stream', () => {
  it('keep the latest per key, stay within 64 KiB (then drop: QoS 0), and flush when the socket drains', async () => {
    const { StreamSession } = await import('../../app/delivery/streams.ts');
    const { WaiterRegistry } = await import('../../app/delivery/waiters.ts');
    const registry = new WaiterRegistry(20);
    const written: [string, string][] = [];
    let drain: (r: 'drained' | 'closed' | 'timeout') => void = () => undefined;
    const sink = {
      messages: () => true, reset: () => true, heartbeat: () => true, end: () => undefined,
      event: (e: string, d: string) => { written.push([e, d]); return written.length > 1; }, // the first write fills the socket
      drained: () => new Promise<'drained' | 'closed' | 'timeout'>((r) => { drain = r; }),
    };
    const reader = { read: async () => [] } as never;
    const s = new StreamSession(registry, reader, sink, 't', 'u', 'd', 0, { pageSize: 10, heartbeatMs: 60_000, closeAt: Date.now() + 60_000, slowCloseMs: 60_000 });
    try {
      assert.equal(s.notice('signal', 'first', 'signal:a:typing'), true);
      const big = (i: number) => `{"i":${i},"p":"${'x'.repeat(4000)}"}`;
      for (let i = 0; i < 5; i++) assert.equal(s.notice('signal', big(i), 'signal:a:cursor'), true, 'same key: replaces');
      let taken = 1;
      while (s.notice('signal', big(100 + taken), `signal:s${taken}:t`)) taken++;
      assert.ok(taken >= 14 && taken <= 16, `about 64 KiB of 4 KiB notices held (${taken})`);
      assert.equal(s.notice('signal', big(999), 'signal:late:t'), false, 'full: dropped, not buffered');
      assert.equal(written.length, 1, 'nothing written while the socket is full');
      drain('drained');
      await new Promise((r) => setImmediate(r));
      const cursor = written.filter(([, d]) => d.includes('"p"') && JSON.parse(d).i < 100);
      assert.deepEqual(cursor.map(([, d]) => JSON.parse(d).i), [4], 'only the latest of a key');
      assert.equal(written.length, 1 + 1 + (taken - 1), 'the first write, the latest cursor, and every other held key');
    } finally {
      s.close('closed');
      registry.stop();
    }
  });
});
