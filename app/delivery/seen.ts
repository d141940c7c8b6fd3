// Keeps last_seen fresh for devices that hold a poll or a stream on this instance, so that any
// instance answering GET /v1/devices sees them online. One UPDATE per tenant every third of the
// online window: a held connection costs nothing of its own (no timer, no query per client).
export type DevicesToucher = (tenantId: string, users: readonly string[], devices: readonly string[]) => Promise<void>;

interface Source {
  devicesByTenant(): Map<string, { users: string[]; devices: string[] }>;
}

const CHUNK = 5000;

export function startSeenRefresh(registry: Source, touch: DevicesToucher, windowS: number, onError: (e: unknown) => void): { stop(): void } {
  let running = false;
  const timer = setInterval(async () => {
    if (running) return; // a slow database must not pile up refreshes
    running = true;
    try {
      for (const [tenantId, { users, devices }] of registry.devicesByTenant()) {
        for (let i = 0; i < users.length; i += CHUNK) await touch(tenantId, users.slice(i, i + CHUNK), devices.slice(i, i + CHUNK));
      }
    } catch (err) {
      onError(err);
    } finally {
      running = false;
    }
  }, Math.max(1000, (windowS * 1000) / 3));
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
