// The background jobs of one process: queues, workers and triggers. Every instance runs all of
// this; pg-boss makes each scheduled tick run once cluster-wide (jobs/schedules.ts).
//
// Queues use the 'short' policy: at most one job waits per queue, so ticks that come while a run
// is still queued merge into it and a slow database cannot build a backlog. Runs are not retried
// (retryLimit 0): the next tick is the retry, and every run is recorded in job_runs either way.
import type PgBoss from 'pg-boss';
import type { Pool } from '../db/pool.ts';
import type { Config } from '../app/config.ts';
import { recorded, type RunResult } from './runs.ts';
import { startTrigger, type Trigger } from './schedules.ts';
import type { RunListener } from './runs.ts';
import { compensationScan } from './compensation.ts';
import { ttlCleanup } from './ttlCleanup.ts';

export const QUEUES = { compensation: 'compensation-scan', ttl: 'ttl-cleanup' } as const;

interface Log {
  warn(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export interface JobsContext {
  boss: PgBoss;
  db: Pool;
  config: Config;
  log: Log;
  /** Told of every run (metrics). */
  onRun?: RunListener;
}

export interface Jobs {
  triggers: readonly Trigger[];
  stop(): void;
}

// Workers poll slowly: the instance that enqueues a tick wakes its own worker at once, so polling
// only matters when that instance died between enqueueing and fetching.
const POLL_S = 5;

export async function startJobs(ctx: JobsContext): Promise<Jobs> {
  const { boss, db, config, log } = ctx;
  const defs: { queue: string; cron: string; expireS: number; run: () => Promise<RunResult> }[] = [
    {
      queue: QUEUES.compensation,
      cron: config.compensationCron,
      expireS: 15 * 60,
      run: () => compensationScan({
        db,
        boss,
        fanoutStuckMs: config.fanoutStuckS * 1000,
        backoff: { deadlineS: config.ackDeadlineS, baseS: config.ackRetryBaseS, factor: config.ackRetryFactor, maxAttempts: config.ackMaxAttempts },
      }),
    },
    {
      queue: QUEUES.ttl,
      cron: config.ttlCleanupCron,
      // The budget bounds the batches; the slack covers the last batch and the message phase.
      expireS: Math.ceil(config.ttlBudgetMs / 1000) * 2 + 60,
      run: () => ttlCleanup(db, { batch: config.ttlBatch, budgetMs: config.ttlBudgetMs, jobRunsKeepDays: config.jobRunsKeepDays }),
    },
  ];

  const triggers: Trigger[] = [];
  for (const d of defs) {
    await boss.createQueue(d.queue, { name: d.queue, policy: 'short', retryLimit: 0, expireInSeconds: d.expireS });
    const workerId = await boss.work<{ tick?: string }>(d.queue, { includeMetadata: true, batchSize: 1, pollingIntervalSeconds: POLL_S }, async (jobs) => {
      for (const job of jobs) {
        await recorded(db, d.queue, async () => {
          const r = await d.run();
          // The slot identifies the tick cluster-wide: one run per slot is the promise.
          return { rows: r.rows, detail: { ...r.detail, slot: job.singletonOn?.toISOString() ?? null, tick: job.data?.tick ?? null } };
        }, ctx.onRun).catch((err) => {
          log.warn({ job: d.queue, err: String((err as Error)?.message ?? err) }, 'job run failed');
          throw err; // pg-boss records the job as failed too
        });
      }
    });
    triggers.push(startTrigger(boss, d.queue, d.cron, () => boss.notifyWorker(workerId),
      (err) => log.warn({ job: d.queue, err: String((err as Error)?.message ?? err) }, 'could not enqueue a scheduled run')));
  }
  return {
    triggers,
    stop() {
      for (const t of triggers) t.stop();
    },
  };
}
