// Job run records.
import type { Queryable } from '../pool.ts';

export interface JobRun {
  job: string;
  startedAt: Date;
  durationMs: number;
  rows: number;
  detail: Record<string, unknown>;
  error: string | null;
}

export async function insertJobRun(db: Queryable, r: JobRun): Promise<void> {
  await db.query({
    name: 'insert_job_run',
    text: 'INSERT INTO job_runs (job, started_at, duration_ms, rows, detail, error) VALUES ($1, $2, $3, $4, $5, $6)',
    values: [r.job, r.startedAt, r.durationMs, r.rows, JSON.stringify(r.detail), r.error],
  });
}

export async function recentJobRuns(db: Queryable, limit: number, job: string | null = null): Promise<(JobRun & { id: number })[]> {
  const { rows } = await db.query<{ id: number; job: string; started_at: Date; duration_ms: number; rows: number; detail: Record<string, unknown>; error: string | null }>({
    name: 'recent_job_runs',
    text: `SELECT id, job, started_at, duration_ms, rows, detail, error FROM job_runs
           WHERE ($2::text IS NULL OR job = $2) ORDER BY started_at DESC, id DESC LIMIT $1`,
    values: [limit, job],
  });
  return rows.map((r) => ({ id: r.id, job: r.job, startedAt: r.started_at, durationMs: r.duration_ms, rows: r.rows, detail: r.detail, error: r.error }));
}
