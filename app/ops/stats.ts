// Database-derived operations figures, read at most once per `cacheMs` however many scrapes and
// consoles ask (one read in flight at a time). Tables of other features are used only when present.
import type { Queryable } from '../../db/pool.ts';
import * as q from '../../db/queries/ops.ts';

export interface Figures {
  at: Date;
  oldestUnackedAgeS: number | null;
  /** null: the table does not exist (yet) in this database. */
  outboxBacklog: number | null;
  deadLetters: number | null;
  lastRuns: q.LastJobRun[];
  /** The database did not answer the last read: these are older figures (or none). */
  stale?: boolean;
}

const EMPTY: Figures = { at: new Date(0), oldestUnackedAgeS: null, outboxBacklog: null, deadLetters: null, lastRuns: [] };

export class Stats {
  private last: Figures | null = null;
  private pending: Promise<Figures> | null = null;

  constructor(private readonly db: Queryable, private readonly cacheMs: number) {}

  /**
   * Never rejects: when the database cannot answer, the last figures (or empty ones) come back with
   * `stale` set, so /metrics still serves this process's own metrics during an outage.
   */
  get(): Promise<Figures> {
    if (this.last && Date.now() - this.last.at.getTime() < this.cacheMs) return Promise.resolve(this.last);
    return (this.pending ??= this.read()
      .catch(() => ({ ...(this.last ?? EMPTY), stale: true }))
      .finally(() => { this.pending = null; }));
  }

  private async read(): Promise<Figures> {
    const [oldest, outbox, dead, lastRuns] = await Promise.all([
      q.oldestUnackedAgeS(this.db), q.outboxBacklog(this.db), q.openDeadLetters(this.db), q.lastJobRuns(this.db),
    ]);
    this.last = { at: new Date(), oldestUnackedAgeS: oldest, outboxBacklog: outbox, deadLetters: dead, lastRuns };
    return this.last;
  }
}
