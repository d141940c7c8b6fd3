// Notification parsing: heads wake waiters; a publish's own notification (|@origin) is skipped by
// the process that sent it (it handed the commit to its waiters itself) and used by every other.
import assert from 'node:assert/strict';
import { Wakeups } from '../../app/delivery/wakeups.ts';
import { WaiterRegistry } from '../../app/delivery/waiters.ts';

describe('wake-up notifications', () => {
  const woken = (origin: string | null, payload: string) => {
    const reg = new WaiterRegistry(1000);
    const got: string[] = [];
    reg.wake = (t, u, h) => { got.push(`${t}/${u}@${h}`); return 0; };
    new Wakeups(reg, origin).handle(payload);
    reg.stop();
    return got;
  };

  it('wakes every user named, with or without an origin', () => {
    assert.deepEqual(woken('me', 'w|t|u|5|v|7'), ['t/u@5', 't/v@7']);
    assert.deepEqual(woken('me', 'w|t|u|5|v|7|@other'), ['t/u@5', 't/v@7']);
    assert.deepEqual(woken(null, 'w|t|u|5|@other'), ['t/u@5']);
  });

  it('skips its own publishes, and ignores malformed parts', () => {
    assert.deepEqual(woken('me', 'w|t|u|5|v|7|@me'), []);
    assert.deepEqual(woken('me', 'w|t|u|x|v|7'), ['t/v@7']);
    assert.deepEqual(woken('me', 'w||u|5'), []);
    assert.deepEqual(woken('me', 'z|t|u|5'), [], 'unknown kinds are ignored');
  });
});
