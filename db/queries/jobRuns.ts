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

export interface JobTotals {
  job: string;
  runs: number;
  failures: number;
  rows: number;
  avgMs: number;
  maxMs: number;
  lastStartedAt: Date;
}

/** Per job over the last `hours`: runs, failures, rows touched, durations. */
export async function jobTotals(db: Queryable, hours: number): Promise<JobTotals[]> {
  const { rows } = await db.query<{ job: string; runs: number; failures: number; rows: number; avg_ms: number; max_ms: number; last: Date }>({
    name: 'job_totals',
    text: `SELECT job, count(*) AS runs, count(*) FILTER (WHERE error IS NOT NULL) AS failures, COALESCE(sum(rows), 0)::bigint AS rows,
                  round(avg(duration_ms))::int AS avg_ms, max(duration_ms) AS max_ms, max(started_at) AS last
           FROM job_runs WHERE started_at > now() - make_interval(hours => $1) GROUP BY job ORDER BY job`,
    values: [hours],
  });
  return rows.map((r) => ({ job: r.job, runs: r.runs, failures: r.failures, rows: r.rows, avgMs: r.avg_ms, maxMs: r.max_ms, lastStartedAt: r.last }));
}

/** Deletes up to `limit` runs older than `days`. */
export async function pruneJobRuns(db: Queryable, days: number, limit: number): Promise<number> {
  const { rowCount } = await db.query({
    name: 'prune_job_runs',
    text: `DELETE FROM job_runs WHERE id IN (
             SELECT id FROM job_runs WHERE started_at < now() - make_interval(days => $1) ORDER BY started_at LIMIT $2)`,
    values: [days, limit],
  });
  return rowCount ?? 0;
}
