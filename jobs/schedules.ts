// Cluster-wide schedules: every instance runs a node-cron trigger with the configured expression,
// and at each tick proposes a job with pg-boss `sendThrottled`, whose slot is the tick's period.
// pg-boss keeps one job per (queue, slot) with a unique index, so with N instances a tick is
// proposed N times and runs once; the instance whose proposal won wakes its own worker at once.
//
// Why not pg-boss `schedule()`: it sends at most one job a minute per queue, and only when its
// timekeeper next looks (up to half a minute late), so a seconds-level scan is impossible and tests
// would wait minutes. The trigger here is only a proposal; running, retrying and cluster safety
// stay pg-boss's. Instances must share a clock (NTP) and time zone, as cron itself assumes.
import cron from 'node-cron';
import type PgBoss from 'pg-boss';

/** The shortest gap between the expression's next runs, in seconds: one tick per slot. */
export function slotSeconds(expression: string, sample = 64): number {
  const task = cron.createTask(expression, () => undefined);
  try {
    const runs = task.getNextRuns(sample).map((d) => d.getTime());
    let gap = Infinity;
    for (let i = 1; i < runs.length; i++) gap = Math.min(gap, runs[i]! - runs[i - 1]!);
    return Number.isFinite(gap) ? Math.max(1, Math.floor(gap / 1000)) : 86400;
  } finally {
    void task.destroy();
  }
}

export interface TriggerStats {
  /** Ticks this process proposed. */
  proposed: number;
  /** Proposals that became a job (the others found the slot taken by another instance). */
  enqueued: number;
  failed: number;
}

export interface Trigger {
  readonly queue: string;
  readonly slotS: number;
  readonly stats: TriggerStats;
  stop(): void;
}

export function startTrigger(
  boss: PgBoss, queue: string, expression: string, wake: () => void, onError: (err: unknown) => void,
): Trigger {
  const slotS = slotSeconds(expression);
  const stats: TriggerStats = { proposed: 0, enqueued: 0, failed: 0 };
  const task = cron.schedule(expression, async (ctx) => {
    stats.proposed++;
    try {
      const id = await boss.sendThrottled(queue, { tick: ctx.date.toISOString() }, {}, slotS);
      if (id) {
        stats.enqueued++;
        wake();
      }
    } catch (err) {
      stats.failed++;
      onError(err);
    }
  }, { name: `trigger:${queue}`, suppressMissedWarning: true });
  return { queue, slotS, stats, stop: () => void task.destroy() };
}
