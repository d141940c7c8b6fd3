// Turns notifications from the LISTEN connection into wake-ups of local waiters.
// Wire format (one NOTIFY payload, fields separated by '|', a character no id may contain):
//   w|<tenant>|<user>|<head>|<user>|<head>…[|@<origin>]   new entries up to <head> in these inboxes;
//                                              a publish names its process, which skips its own
//                                              (it hands its commits to its waiters itself). The
//                                              odd last field is ignored by older parsers.
//   o|<tenant>|<user>|<device>|<acked>         re-offer: the device's streams resend after <acked>
// Unknown kinds are ignored, so a newer process can add kinds without breaking older ones.
import type { WaiterRegistry } from './waiters.ts';

export type NotificationHandler = (fields: string[]) => void;

export class Wakeups {
  private handlers = new Map<string, NotificationHandler>();

  /** `origin`: this process's name in its own publishes' notifications (see delivery/local.ts). */
  constructor(private readonly registry: WaiterRegistry, private readonly origin: string | null = null) {
    this.handlers.set('w', (f) => this.onHeads(f));
  }

  /** Lets other features ride the same channel under their own kind letter. */
  on(kind: string, handler: NotificationHandler): void {
    this.handlers.set(kind, handler);
  }

  handle(payload: string): void {
    const fields = payload.split('|');
    this.handlers.get(fields[0]!)?.(fields);
  }

  private onHeads(f: string[]): void {
    const tenantId = f[1];
    if (!tenantId) return;
    let end = f.length;
    if (end % 2 === 1 && f[end - 1]!.startsWith('@')) {
      if (this.origin !== null && f[end - 1] === `@${this.origin}`) return;
      end--;
    }
    for (let i = 2; i + 1 < end; i += 2) {
      const head = Number(f[i + 1]);
      if (Number.isSafeInteger(head)) this.registry.wake(tenantId, f[i]!, head);
    }
  }
}

/** The `o` kind (sent by the compensation scan and dead-letter retry): re-offer on live streams. */
export function reoffers(registry: WaiterRegistry): NotificationHandler {
  return (f) => {
    const acked = Number(f[4]);
    if (f[1] && f[2] && f[3] && Number.isSafeInteger(acked)) registry.reoffer(f[1], f[2], f[3], acked);
  };
}
