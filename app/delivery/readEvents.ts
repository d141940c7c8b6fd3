// Read markers reach the user's other devices at once: a committed POST /v1/read sends
// `r|<tenant>|<user>|<seq>|<device>`; every instance turns it into an SSE `read` event on that
// user's open streams here, except those of the device that read (it knows already).
// Polls learn the marker from the `read` field of their next answer (read by its start statement).
import type { NotificationHandler } from './wakeups.ts';
import type { StreamWaiter, WaiterRegistry } from './waiters.ts';

export function readEvents(registry: WaiterRegistry): NotificationHandler {
  return (f) => {
    const [, tenantId, userId, seqText, deviceId] = f;
    const seq = Number(seqText);
    if (!tenantId || !userId || !Number.isSafeInteger(seq)) return;
    registry.disturb(tenantId, userId); // polls carry the marker in their answer: the next one reads it
    for (const w of registry.waitersOf(tenantId, userId)) {
      if (w.kind === 'stream' && w.deviceId !== deviceId) (w as StreamWaiter).notice('read', `{"seq":${seq}}`);
    }
  };
}
