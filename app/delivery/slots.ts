// Connection slots: how many held polls and open streams this process has, in total and per device
// and user, so that a misbehaving client (or a flood) cannot pile up sockets without bound. A slot is
// taken synchronously when a connection is accepted — before any await, so concurrent opens cannot
// all slip under a cap — and given back exactly once when the connection closes.
//
// A device has at most one held poll (a newer one supersedes it), so a poll of a device that already
// holds one is always let in: it frees the old slot a moment later.
import { userKey, deviceKey } from './keys.ts';

export type SlotRefusal = 'device' | 'user' | 'process';

export interface SlotCaps {
  streamsPerDevice: number;
  streamsPerUser: number;
  /** Held polls + open streams in this process. */
  total: number;
}


function bump(m: Map<string, number>, k: string, by: number): void {
  const n = (m.get(k) ?? 0) + by;
  if (n > 0) m.set(k, n);
  else m.delete(k);
}

export class ConnectionSlots {
  private total = 0;
  private streamsByDevice = new Map<string, number>();
  private streamsByUser = new Map<string, number>();
  private pollsByDevice = new Map<string, number>();

  constructor(private readonly caps: SlotCaps) {}

  /** Held polls + open streams right now. */
  get held(): number {
    return this.total;
  }

  /** A release function (safe to call more than once), or why the connection is refused. */
  acquire(kind: 'poll' | 'stream', tenantId: string, userId: string, deviceId: string): (() => void) | SlotRefusal {
    const dk = deviceKey(tenantId, userId, deviceId);
    if (kind === 'poll') {
      if (this.total >= this.caps.total && !this.pollsByDevice.has(dk)) return 'process';
      bump(this.pollsByDevice, dk, 1);
      this.total++;
      return this.releaser(() => bump(this.pollsByDevice, dk, -1));
    }
    const uk = userKey(tenantId, userId);
    if ((this.streamsByDevice.get(dk) ?? 0) >= this.caps.streamsPerDevice) return 'device';
    if ((this.streamsByUser.get(uk) ?? 0) >= this.caps.streamsPerUser) return 'user';
    if (this.total >= this.caps.total) return 'process';
    bump(this.streamsByDevice, dk, 1);
    bump(this.streamsByUser, uk, 1);
    this.total++;
    return this.releaser(() => {
      bump(this.streamsByDevice, dk, -1);
      bump(this.streamsByUser, uk, -1);
    });
  }

  private releaser(undo: () => void): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.total--;
      undo();
    };
  }
}
