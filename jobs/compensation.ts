// The compensation scan: a list of independent steps, each repairing one kind of work the happy
// path left unfinished. Every step is idempotent and safe to run concurrently with itself (rows
// are claimed with SKIP LOCKED), so an overlapping or repeated run does no harm. One failing step
// does not stop the others; the run is recorded as failed with every step's error.
import type PgBoss from 'pg-boss';
import type { Pool } from '../db/pool.ts';
import { redriveStuckFanouts } from '../app/services/fanout.ts';
import { closeAckedDeadLetters, restartProgressing, offerDue, type Backoff } from '../db/queries/delivery.ts';
import type { RunResult } from './runs.ts';

export interface ScanContext {
  db: Pool;
  backoff: Backoff;
  boss: Pick<PgBoss, 'send'>;
  /** A queued fan-out with no progress for this long is sent to the fan-out workers again. */
  fanoutStuckMs: number;
}

export interface ScanStep {
  name: string;
  /** Returns what it touched, by kind; the run's rows are the sum. */
  run(c: ScanContext): Promise<Record<string, number>>;
}

const BATCH = 500;
/** Batches per step and run: a huge backlog is worked off over several runs, each bounded. */
const MAX_BATCHES = 40;

async function drain(fn: () => Promise<number>): Promise<number> {
  let total = 0;
  for (let i = 0; i < MAX_BATCHES; i++) {
    const n = await fn();
    total += n;
    if (n < BATCH) break;
  }
  return total;
}

/**
 * Devices holding entries delivered but not acknowledged past the deadline: re-offered (a live
 * stream rewinds to the device's cursor; a long poll gets them on its next poll, as its cursor did
 * not move) with exponential backoff, and after the last attempt dead-lettered and marked offline.
 */
export const unackedDelivery: ScanStep = {
  name: 'unacked',
  async run({ db, backoff }) {
    const closed = await closeAckedDeadLetters(db);
    const restarted = await drain(() => restartProgressing(db, BATCH));
    let offered = 0;
    let deadLettered = 0;
    await drain(async () => {
      const r = await offerDue(db, backoff, BATCH, 'ack_timeout');
      offered += r.offered;
      deadLettered += r.dead;
      return r.offered + r.dead;
    });
    return { closed, restarted, offered, deadLettered };
  },
};

/**
 * Queued group fan-outs left unfinished (the process died between the publish commit and the
 * fan-out, or its job was lost): the outbox row is the source of truth, so they are sent again.
 */
export const stuckFanouts: ScanStep = {
  name: 'outbox',
  async run({ db, boss, fanoutStuckMs }) {
    return { redriven: await drain(() => redriveStuckFanouts(db, boss, fanoutStuckMs)) };
  },
};

export const SCAN_STEPS: readonly ScanStep[] = [stuckFanouts, unackedDelivery];

export async function compensationScan(c: ScanContext, steps: readonly ScanStep[] = SCAN_STEPS): Promise<RunResult> {
  const detail: Record<string, unknown> = {};
  const errors: string[] = [];
  let rows = 0;
  for (const step of steps) {
    try {
      const out = await step.run(c);
      detail[step.name] = out;
      rows += Object.values(out).reduce((a, b) => a + b, 0);
    } catch (err) {
      errors.push(`${step.name}: ${(err as Error)?.message ?? String(err)}`);
    }
  }
  if (errors.length) throw new Error(errors.join('; '));
  return { rows, detail };
}
