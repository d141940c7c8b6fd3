// The run's database, set by the root hooks.
import pg from 'pg';
import type { EmbeddedDb } from '../../db/embedded.ts';

let current: { url: string; embedded: EmbeddedDb | null } | null = null;

export function setTestDb(d: { url: string; embedded: EmbeddedDb | null }): void {
  current = d;
}

export function testDb(): { url: string; embedded: EmbeddedDb | null } {
  if (!current) throw new Error('the test database is not started (root hooks missing?)');
  return current;
}

/** A short-lived client for assertions straight against the database. */
export async function sql<T extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: testDb().url });
  await c.connect();
  try {
    return (await c.query<T>(text, values)).rows;
  } finally {
    await c.end();
  }
}
