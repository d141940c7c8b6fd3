// Wraps a job handler so every run is recorded in job_runs (and a failure is recorded, then
// rethrown so pg-boss retries it).
import type { Queryable } from '../db/pool.ts';
import { insertJobRun } from '../db/queries/jobRuns.ts';

export interface RunResult {
  rows: number;
  detail?: Record<string, unknown>;
}

export type RunListener = (job: string, durationMs: number, r: RunResult | null, error: string | null) => void;

export async function recorded(db: Queryable, job: string, fn: () => Promise<RunResult>, onRun?: RunListener): Promise<RunResult> {
  const startedAt = new Date();
  const t0 = performance.now();
  try {
    const r = await fn();
    const durationMs = Math.round(performance.now() - t0);
    await insertJobRun(db, { job, startedAt, durationMs, rows: r.rows, detail: r.detail ?? {}, error: null }).catch(() => undefined);
    onRun?.(job, durationMs, r, null);
    return r;
  } catch (err) {
    const durationMs = Math.round(performance.now() - t0);
    const error = String((err as Error)?.message ?? err).slice(0, 1000);
    await insertJobRun(db, { job, startedAt, durationMs, rows: 0, detail: {}, error }).catch(() => undefined);
    onRun?.(job, durationMs, null, error);
    throw err;
  }
}
