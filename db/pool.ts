// The connection pool and the transaction helper. Everything that talks to PostgreSQL takes a
// Queryable (a pool or a checked-out client) first, so a query works inside or outside a transaction.
import pg from 'pg';

export type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;
export type Pool = pg.Pool;

// int8 (bigint) as a JS number: seqs and counts stay far below 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

export interface PoolOptions {
  max: number;
  acquireTimeoutMs: number;
  statementTimeoutMs: number;
  applicationName?: string;
  onError: (err: Error) => void;
}

export function createPool(connectionString: string, o: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max: o.max,
    // Connections stay once made: a re-made one pays connecting, and a new backend plans its first
    // statements over the partitioned tables slowly (catalog loading: ~3 ms for an inbox read
    // against ~0.2 ms after), on some request's time. Broken ones are still discarded.
    min: o.max,
    connectionTimeoutMillis: o.acquireTimeoutMs,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    statement_timeout: o.statementTimeoutMs,
    // statement_timeout is the server's; when the server itself is unreachable mid-query (a network
    // partition, a frozen host) only a client-side timeout ends the wait. The client is then discarded.
    query_timeout: o.statementTimeoutMs + 2000,
    application_name: o.applicationName ?? 'mailslot',
  });
  // An idle client that loses its server emits here; without a listener the process would die.
  pool.on('error', o.onError);
  return pool;
}

/** Runs fn in one transaction on one client; rolls back on any error. */
export async function withTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
  { lockTimeoutMs = 5000 }: { lockTimeoutMs?: number } = {},
): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query('BEGIN');
    await client.query(`SET LOCAL lock_timeout = ${Math.floor(lockTimeoutMs)}`);
    const out = await fn(client);
    await client.query('COMMIT');
    return out;
  } catch (err) {
    try {
      await client.query('ROLLBACK');
    } catch {
      broken = true; // the connection is gone: do not hand it back to the pool
    }
    throw err;
  } finally {
    client.release(broken);
  }
}

/** Error codes meaning "the database is not reachable right now" rather than "the query is wrong". */
export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: string; message?: string; syscall?: string } | null;
  if (!e) return false;
  const code = e.code ?? '';
  if (code === 'ENOENT' && e.syscall === 'connect') return true; // a Unix socket gone with its server
  if (/^(08|57P0[1-3]|53300)/.test(code)) return true; // connection exception, admin/crash shutdown, too many connections
  if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN'].includes(code)) return true;
  const msg = e.message ?? '';
  return /timeout exceeded when trying to connect|Connection terminated|connection timeout|Client has encountered a connection error|not queryable|Query read timeout/i.test(msg);
}
