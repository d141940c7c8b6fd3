// Operator use cases behind /v1/admin: dead letters (list, retry, discard) and job statistics.
import type { Queryable } from '../../db/pool.ts';
import * as dl from '../../db/queries/deadLetters.ts';
import { jobTotals, recentJobRuns, type JobTotals, type JobRun } from '../../db/queries/jobRuns.ts';
import { ApiError } from '../errors.ts';

export type { DeadLetter, DeadLetterState } from '../../db/queries/deadLetters.ts';

export const listDeadLetters = dl.listDeadLetters;

async function resolve(
  db: Queryable, tenantId: string, id: number, act: typeof dl.retryDeadLetter, done: dl.DeadLetterState,
): Promise<dl.DeadLetter> {
  const changed = await act(db, tenantId, id);
  if (changed) return changed;
  const found = await dl.findDeadLetter(db, tenantId, id);
  if (!found) throw new ApiError('not_found', `no dead letter ${id}`);
  // Repeating the same action is harmless (a retried client request); the other one is refused.
  if (found.state === done) return found;
  throw new ApiError('invalid_request', `dead letter ${id} is already ${found.state}`);
}

/** Re-arms delivery: attempts reset, the device online again and re-offered now. */
export const retryDeadLetter = (db: Queryable, tenantId: string, id: number) => resolve(db, tenantId, id, dl.retryDeadLetter, 'retried');

/** Acknowledges the range away: the device cursor moves to the letter's toSeq. */
export const discardDeadLetter = (db: Queryable, tenantId: string, id: number) => resolve(db, tenantId, id, dl.discardDeadLetter, 'discarded');

export interface Stats {
  /** Per job over the last 24 hours (jobs are cluster-wide: counts, never tenant data). */
  jobs: JobTotals[];
  recentRuns: (JobRun & { id: number })[];
  openDeadLetters: number;
}

export async function stats(db: Queryable, tenantId: string): Promise<Stats> {
  const [jobs, recentRuns, openDeadLetters] = await Promise.all([
    jobTotals(db, 24), recentJobRuns(db, 20), dl.countOpenDeadLetters(db, tenantId),
  ]);
  return { jobs, recentRuns, openDeadLetters };
}
