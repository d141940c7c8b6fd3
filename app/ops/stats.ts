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
}

export class Stats {
  private last: Figures | null = null;
  private pending: Promise<Figures> | null = null;

  constructor(private readonly db: Queryable, private readonly cacheMs: number) {}

  get(): Promise<Figures> {
    if (this.last && Date.now() - this.last.at.getTime() < this.cacheMs) return Promise.resolve(this.last);
    return (this.pending ??= this.read().finally(() => { this.pending = null; }));
  }

  private async read(): Promise<Figures> {
    const [oldest, hasOutbox, hasDead, lastRuns] = await Promise.all([
      q.oldestUnackedAgeS(this.db), q.tableExists(this.db, 'outbox'), q.tableExists(this.db, 'dead_letters'), q.lastJobRuns(this.db),
    ]);
    const [outbox, dead] = await Promise.all([
      hasOutbox ? q.countRows(this.db, 'outbox') : null,
      hasDead ? q.countRows(this.db, 'dead_letters') : null,
    ]);
    this.last = { at: new Date(), oldestUnackedAgeS: oldest, outboxBacklog: outbox, deadLetters: dead, lastRuns };
    return this.last;
  }
}
