import assert from 'node:assert/strict';
import { WaiterRegistry, type PollWaiter, type StreamWaiter } from '../../app/delivery/waiters.ts';

function fakePoll(userId: string, deviceId: string, cursor: number, deadline: number) {
  const log: string[] = [];
  const w: PollWaiter = {
    kind: 'poll', tenantId: 't', userId, deviceId, cursor, deadline,
    wake: (h) => log.push(`wake:${h}`), supersede: () => log.push('superseded'), timeout: () => log.push('timeout'), shutdown: () => log.push('shutdown'),
    unsettle: () => log.push('unsettled'),
  };
  return { w, log };
}

describe('waiter registry (the per-client timeout map)', () => {
  let reg: WaiterRegistry;
  beforeEach(() => { reg = new WaiterRegistry(20); });
  afterEach(() => reg.stop());

  it('keeps one poll per device: a newer one supersedes the older', () => {
    const a = fakePoll('u', 'd', 0, Date.now() + 60_000);
    const b = fakePoll('u', 'd', 0, Date.now() + 60_000);
    const other = fakePoll('u', 'd2', 0, Date.now() + 60_000);
    reg.addPoll(a.w);
    reg.addPoll(other.w);
    reg.addPoll(b.w);
    assert.deepEqual(a.log, ['superseded']);
    assert.deepEqual(other.log, []);
    assert.equal(reg.polls, 2);
  });

  it('wakes only the waiters of that user whose cursor is behind the head', () => {
    const behind = fakePoll('u', 'd1', 3, Date.now() + 60_000);
    const current = fakePoll('u', 'd2', 5, Date.now() + 60_000);
    const stranger = fakePoll('v', 'd1', 0, Date.now() + 60_000);
    for (const x of [behind, current, stranger]) reg.addPoll(x.w);
    assert.equal(reg.wake('t', 'u', 5), 1);
    assert.deepEqual(behind.log, ['wake:5']);
    assert.deepEqual(current.log, []);
    assert.deepEqual(stranger.log, []);
    assert.equal(reg.wake('other-tenant', 'u', 9), 0);
  });

  it('a watch sees the wake-ups of its user that arrive before the poll registers, and ends cleanly', () => {
    const end = reg.watch('t', 'u');
    const both = reg.watch('t', 'u');
    const other = reg.watch('t', 'v');
    assert.equal(reg.wake('t', 'u', 4), 0, 'no waiter yet');
    reg.wake('t', 'u', 7);
    reg.wake('t', 'u', 6);
    assert.equal(end(), 7, 'the highest head woken meanwhile');
    assert.equal(end(), 7, 'ending twice is harmless');
    reg.wake('t', 'u', 9);
    assert.equal(both(), 9, 'a watch still open goes on seeing wakes');
    assert.equal(other(), 0, "another user's wakes are not seen");
    // All ended: a later watch starts from nothing.
    assert.equal(reg.watch('t', 'u')(), 0);
  });

  it('times polls out from the wheel, never early, and forgets removed ones', async () => {
    const soon = fakePoll('u', 'a', 0, Date.now() + 50);
    const removed = fakePoll('u', 'b', 0, Date.now() + 50);
    const past = fakePoll('u', 'c', 0, Date.now() - 1000);
    const t0 = Date.now();
    reg.addPoll(soon.w);
    reg.addPoll(removed.w);
    reg.addPoll(past.w);
    reg.remove(removed.w);
    reg.remove(removed.w); // idempotent
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(soon.log, ['timeout']);
    assert.deepEqual(past.log, ['timeout']);
    assert.deepEqual(removed.log, []);
    assert.ok(Date.now() - t0 >= 50);
    assert.equal(reg.polls, 0);
    assert.equal(reg.usersByTenant().size, 0, 'no index entry left behind');
  });

  it('ticks streams and closes everything on shutdown', async () => {
    let ticks = 0;
    const log: string[] = [];
    const s: StreamWaiter = { kind: 'stream', tenantId: 't', userId: 'u', deviceId: 'd', cursor: 0, wake: () => undefined, notice: () => true, tick: () => { ticks++; }, shutdown: () => log.push('shutdown') };
    const p = fakePoll('u', 'd', 0, Date.now() + 60_000);
    reg.addStream(s);
    reg.addPoll(p.w);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(ticks >= 2);
    assert.deepEqual(reg.usersByTenant().get('t')?.get('u'), 0);
    reg.closeAll();
    assert.deepEqual(log, ['shutdown']);
    assert.deepEqual(p.log, ['shutdown']);
    assert.equal(reg.streamCount + reg.polls, 0);
  });
});
