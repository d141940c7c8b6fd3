// The publisher's view of this process's waiters: a message committed here for a user who waits
// here is written to that waiter at once, without the notification round trip and the inbox read
// that a waiter in another process needs. The commit's NOTIFY names this process as its origin;
// Wakeups skips it here, since every commit of this process is handed over by the publisher, with
// its body.
import type { LocalDelivery } from '../services/publish.ts';
import type { WaiterRegistry } from './waiters.ts';

export function localDelivery(registry: WaiterRegistry, origin: string, recheck: () => void): LocalDelivery {
  return {
    origin,
    committed(tenantId, body, seqs) {
      for (const [userId, seq] of Object.entries(seqs)) {
        if (body === null) registry.wake(tenantId, userId, seq);
        else registry.deliver(tenantId, userId, seq, () => [{ seq, body }]);
      }
    },
    uncertain: recheck,
  };
}
