// A small forward-only migrator. Files db/migrations/NNN_name.sql run in order, each in its own
// transaction, under a session advisory lock held on one dedicated connection, so that several
// processes starting at once apply each migration exactly once. The version row is inserted first
// in the transaction: a concurrent migrator that somehow got past the lock would fail on its key.
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');
// Arbitrary, fixed: "mailslot" in ASCII folded into 63 bits.
const LOCK_KEY = 0x6d61696c736c6f74n & 0x7fffffffffffffffn;

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export async function loadMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await fs.readdir(dir)).filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f)).sort();
  const out: Migration[] = [];
  for (const f of files) {
    out.push({ version: Number(f.slice(0, 3)), name: f.replace(/\.sql$/, ''), sql: await fs.readFile(path.join(dir, f), 'utf8') });
  }
  out.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration numbering has a gap or duplicate at ${m.name}`);
  });
  return out;
}

/** Applies pending migrations; returns the names applied. Refuses a database newer than the code. */
export async function migrate(connectionString: string, dir = MIGRATIONS_DIR): Promise<string[]> {
  const migrations = await loadMigrations(dir);
  const client = new pg.Client({ connectionString, application_name: 'mailslot-migrate' });
  client.on('error', () => { /* surfaced by the failing query */ });
  await client.connect();
  const applied: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY.toString()]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
    const done = new Set(rows.map((r) => r.version));
    const newest = rows.at(-1)?.version ?? 0;
    if (newest > migrations.length) {
      throw new Error(`database schema is at version ${newest}, newer than this code (${migrations.length}); refusing to start`);
    }
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
        await client.query(m.sql);
        await client.query('COMMIT');
        applied.push(m.name);
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw new Error(`migration ${m.name} failed: ${(err as Error).message}`);
      }
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY.toString()]).catch(() => undefined);
    await client.end().catch(() => undefined);
  }
  return applied;
}

/** The highest applied version, or 0 (used by /readyz). */
export async function schemaVersion(db: pg.Pool): Promise<number> {
  const { rows } = await db.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations');
  return rows[0]?.v ?? 0;
}

export async function expectedVersion(): Promise<number> {
  return (await loadMigrations()).length;
}
