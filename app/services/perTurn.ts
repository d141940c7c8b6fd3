// Requests made in the same turn of the event loop, collected per tenant and handed over together
// once the turn ends: a thousand waiters woken at once, or a thousand clients reconnecting at once,
// become a few statements instead of a thousand.
export class PerTurn<T> {
  private pending = new Map<string, T[]>();
  private scheduled = false;

  constructor(private readonly run: (tenantId: string, items: T[]) => void) {}

  add(tenantId: string, item: T): void {
    let list = this.pending.get(tenantId);
    if (!list) this.pending.set(tenantId, (list = []));
    list.push(item);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.scheduled = false;
    const all = this.pending;
    this.pending = new Map();
    for (const [tenantId, items] of all) this.run(tenantId, items);
  }
}
