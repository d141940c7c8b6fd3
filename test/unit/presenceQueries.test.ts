// The statements deciding presence changes are planned with their values every time: they carry no
// statement name (a named one may be switched to a generic plan after five runs, and the generic
// plan of the online assertion took 0.85–1 s a call against 11 ms with 1,000 group members).
import assert from 'node:assert/strict';
import { assertOnline, sweepOffline } from '../../db/queries/presence.ts';

describe('presence statements', () => {
  it('are sent without a statement name', async () => {
    const sent: { name?: string; text: string }[] = [];
    const db = { query: async (q: { name?: string; text: string }) => { sent.push(q); return { rows: [{ changed: null }] }; } };
    await assertOnline(db as never, 't1', ['u1'], 60);
    await sweepOffline(db as never, 60, 100);
    assert.equal(sent.length, 2);
    for (const q of sent) assert.equal(q.name, undefined, q.text.slice(0, 60));
  });
});
