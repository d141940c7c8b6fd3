// Where polls and streams start: the device is marked seen (and a poll's `since` acknowledged)
// and the inbox head read. Starts asked for in the same turn of the event loop share one
// statement per tenant, as reads do (services/reader.ts): after a restart every client reconnects
// at once, and a thousand one-row statements queue for the pool where a few batched ones do not.
import type { Queryable } from '../../db/pool.ts';
import { startDevices, type DeviceState, type Touch } from '../../db/queries/inbox.ts';
import { PerTurn } from './perTurn.ts';
import { deviceKey } from '../delivery/keys.ts';

interface Pending extends Touch {
  resolve: (s: DeviceState) => void;
  reject: (err: unknown) => void;
}

/** Devices in one statement, at most (its arrays travel as parameters). */
const MAX_PER_STATEMENT = 1000;

export class DeviceTouches {
  private readonly turn = new PerTurn<Pending>((tenantId, list) => void this.runAll(tenantId, list));

  constructor(private readonly db: Queryable) {}

  touch(tenantId: string, userId: string, deviceId: string, ack: number | null): Promise<DeviceState> {
    return new Promise((resolve, reject) => this.turn.add(tenantId, { userId, deviceId, ack, resolve, reject }));
  }

  /**
   * One statement cannot update a row twice: a device asked for again in the same turn (a poll
   * superseding another) goes in a statement after this one, in the order asked.
   */
  private async runAll(tenantId: string, list: Pending[]): Promise<void> {
    while (list.length) {
      const batch: Pending[] = [];
      const later: Pending[] = [];
      const seen = new Set<string>();
      for (const t of list) {
        const k = deviceKey(tenantId, t.userId, t.deviceId);
        if (seen.has(k) || batch.length === MAX_PER_STATEMENT) later.push(t);
        else {
          seen.add(k);
          batch.push(t);
        }
      }
      await this.run(tenantId, batch);
      list = later;
    }
  }

  private async run(tenantId: string, batch: Pending[]): Promise<void> {
    try {
      const states = await startDevices(this.db, tenantId, batch);
      batch.forEach((t, i) => {
        const st = states[i];
        if (st) t.resolve(st);
        else t.reject(new Error(`device ${t.deviceId} was not touched`));
      });
    } catch (err) {
      for (const t of batch) t.reject(err);
    }
  }
}
