// When a poll's answer is settled (nothing it heard of left behind), the next poll of the device
// may wait without a start statement; an unsettled answer must never pass for settled.
import assert from 'node:assert/strict';
import { WaiterRegistry } from '../../app/delivery/waiters.ts';
import { PollSession, type PollOutcome } from '../../app/delivery/polls.ts';
import type { Entry, InboxReader } from '../../app/services/reader.ts';

/** A reader whose reads the test answers by hand. */
function manualReader() {
  const pending: Array<(e: Entry[]) => void> = [];
  const reader = { read: () => new Promise<Entry[]>((r) => pending.push(r)) } as unknown as InboxReader;
  return { reader, pending };
}
const entries = (...seqs: number[]): Entry[] => seqs.map((seq) => ({ seq, body: '{}' }));
const turn = () => new Promise((r) => setImmediate(r));

describe('poll sessions: settled answers', () => {
  let reg: WaiterRegistry;
  beforeEach(() => { reg = new WaiterRegistry(20); });
  afterEach(() => reg.stop());

  function session(cursor: number, knownHead: number, reader: InboxReader, limit = 10) {
    const out: PollOutcome[] = [];
    const s = new PollSession(reg, reader, 't', 'u', 'd', cursor, limit, Date.now() + 60_000, knownHead, (o) => out.push(o));
    return { s, out };
  }

  it('an answer reaching every head heard of is settled', async () => {
    const { reader, pending } = manualReader();
    const { s, out } = session(0, 0, reader);
    await s.start(false);
    reg.wake('t', 'u', 2);
    pending.shift()!(entries(1, 2));
    await turn();
    assert.deepEqual([out[0]!.end, out[0]!.settled], ['message', true]);
  });

  it('a wake while the read was in flight, past what it returned, is not settled', async () => {
    const { reader, pending } = manualReader();
    const { s, out } = session(0, 0, reader);
    await s.start(false);
    reg.wake('t', 'u', 1);
    reg.wake('t', 'u', 2); // committed after the read's snapshot, maybe
    pending.shift()!(entries(1));
    await turn();
    assert.deepEqual([out[0]!.end, out[0]!.entries.length, out[0]!.settled], ['message', 1, false]);
  });

  it('a page with more after it, or a head known at the start beyond the answer, is not settled', async () => {
    const a = manualReader();
    const more = session(0, 0, a.reader, 1);
    const started = more.s.start(true);
    a.pending.shift()!(entries(1, 2));
    await started;
    assert.deepEqual([more.out[0]!.more, more.out[0]!.settled], [true, false]);
    const b = manualReader();
    const behind = session(0, 5, b.reader);
    const started2 = behind.s.start(true);
    b.pending.shift()!(entries(1, 2)); // entries 3..5 expired, say
    await started2;
    assert.equal(behind.out[0]!.settled, false);
  });

  it('a timeout with no wake is settled; after a wake whose read found nothing, or a disturbance, it is not', async () => {
    const { reader, pending } = manualReader();
    const quiet = session(3, 3, reader);
    await quiet.s.start(false);
    quiet.s.timeout();
    assert.deepEqual([quiet.out[0]!.end, quiet.out[0]!.settled], ['timeout', true]);

    const woken = session(3, 3, reader);
    await woken.s.start(false);
    reg.wake('t', 'u', 4);
    pending.shift()!([]); // a read that did not see it (yet)
    await turn();
    woken.s.timeout();
    assert.deepEqual([woken.out[0]!.end, woken.out[0]!.settled], ['timeout', false]);

    const disturbed = session(3, 3, reader);
    await disturbed.s.start(false);
    reg.disturb('t', 'u');
    disturbed.s.timeout();
    assert.equal(disturbed.out[0]!.settled, false);
  });
});
