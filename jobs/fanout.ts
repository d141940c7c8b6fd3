// The `fanout` queue: one job per queued group message, run to the end batch by batch
// (app/services/fanout.ts). A failed run is retried by pg-boss with backoff; a job lost
// altogether is re-driven from its outbox row by the compensation scan.
import type PgBoss from 'pg-boss';
import type { Pool } from '../db/pool.ts';
import { FANOUT_QUEUE, runFanout, type FanoutJob, type FanoutQueue } from '../app/services/fanout.ts';
import { recorded, type RunListener } from './runs.ts';

export interface FanoutWorkerOptions {
  batchSize: number;
  /** Fan-outs run at once in this process (each holds one connection while a batch commits). */
  workers: number;
  /** Told of every run (metrics). */
  onRun?: RunListener;
}

/** Jobs taken per fetch. */
const FETCH = 10;

const isJob = (v: unknown): v is FanoutJob => {
  const j = v as FanoutJob | null;
  return !!j && typeof j.tenantId === 'string' && typeof j.messageId === 'string';
};

export async function startFanoutWorkers(boss: PgBoss, db: Pool, o: FanoutWorkerOptions): Promise<FanoutQueue> {
  await boss.createQueue(FANOUT_QUEUE, { name: FANOUT_QUEUE, retryLimit: 20, retryDelay: 2, retryBackoff: true, expireInSeconds: 15 * 60 });
  const ids: string[] = [];
  for (let i = 0; i < o.workers; i++) {
    const id: string = await boss.work<FanoutJob>(FANOUT_QUEUE, { batchSize: FETCH, pollingIntervalSeconds: 2 }, async (jobs) => {
      let failed: unknown = null;
      for (const job of jobs) {
        if (!isJob(job.data)) continue; // not ours to retry: malformed data never becomes valid
        try {
          await recorded(db, 'fanout', () => runFanout(db, job.data, o.batchSize), o.onRun);
        } catch (err) {
          failed ??= err;
        }
      }
      // pg-boss waits a polling interval after every fetch, even a full one: with a backlog,
      // fetch again at once. A failure fails the fetched jobs together; their retries of the
      // finished ones are no-ops (the outbox row says done).
      if (jobs.length === FETCH) boss.notifyWorker(id);
      if (failed) throw failed;
    });
    ids.push(id);
  }
  let next = 0;
  return {
    async enqueue(job) {
      await boss.send(FANOUT_QUEUE, job);
      // Wake a local worker now instead of at its next poll: the sender's members wait for it.
      boss.notifyWorker(ids[next++ % ids.length]!);
    },
  };
}
