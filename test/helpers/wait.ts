// Waiting for conditions with a deadline, never a fixed sleep.
export async function waitFor<T>(fn: () => T | Promise<T>, { timeoutMs = 10_000, everyMs = 20, what = 'condition' } = {}): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
