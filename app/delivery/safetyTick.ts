// The safety net under NOTIFY: every few seconds, one query per tenant reads the inbox heads of
// all users with local waiters and wakes those behind. A lost notification (LISTEN connection
// down, a notification dropped) therefore delays a message by at most one tick, never loses it.
// Also run at once after the LISTEN connection comes back.
import cron from 'node-cron';
import type { WaiterRegistry } from './waiters.ts';

export type HeadsReader = (tenantId: string, users: readonly string[]) => Promise<Map<string, number>>;

const CHUNK = 5000;

export async function recheckAll(registry: WaiterRegistry, heads: HeadsReader): Promise<number> {
  let woken = 0;
  for (const [tenantId, users] of registry.usersByTenant()) {
    const ids = [...users.keys()];
    for (let i = 0; i < ids.length; i += CHUNK) {
      const found = await heads(tenantId, ids.slice(i, i + CHUNK));
      for (const [userId, head] of found) {
        if (head > (users.get(userId) ?? Infinity)) woken += registry.wake(tenantId, userId, head);
      }
    }
  }
  return woken;
}

/**
 * Notifications may have been lost (the LISTEN connection came back, a publish's outcome is
 * unknown): nothing heard so far can be trusted to be complete, so polls about to resume from a
 * settled answer read first (WaiterRegistry.disturbAll); then every waiter is re-checked.
 */
export function recheckAfterLoss(registry: WaiterRegistry, heads: HeadsReader, onError: (e: unknown) => void): void {
  registry.disturbAll();
  recheckAll(registry, heads).catch(onError);
}

export interface SafetyTick {
  stop(): void;
}

export function startSafetyTick(registry: WaiterRegistry, heads: HeadsReader, everyS: number, onError: (e: unknown) => void): SafetyTick {
  let running = false;
  const task = cron.schedule(`*/${everyS} * * * * *`, async () => {
    if (running) return; // a slow database must not pile up ticks
    running = true;
    try {
      await recheckAll(registry, heads);
    } catch (err) {
      onError(err);
    } finally {
      running = false;
    }
  }, { name: 'safety-tick', suppressMissedWarning: true });
  return { stop: () => void task.stop() };
}
