// Composition: config -> database (embedded or external) -> migrations -> pool -> LISTEN ->
// waiter registry -> HTTP -> safety tick. Shutdown runs in reverse. Used by main.ts, the tests and
// the benchmarks alike, so all of them run the same wiring.
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import type { Config } from './config.ts';
import { createPool, type Pool } from '../db/pool.ts';
import { migrate, schemaVersion, expectedVersion } from '../db/migrate.ts';
import { startEmbedded, type EmbeddedDb } from '../db/embedded.ts';
import { Listener } from '../db/listen.ts';
import { WaiterRegistry } from './delivery/waiters.ts';
import { Wakeups } from './delivery/wakeups.ts';
import { recheckAll, startSafetyTick } from './delivery/safetyTick.ts';
import { InboxReader } from './services/reader.ts';
import { Publisher } from './services/publish.ts';
import { heads } from './services/inbox.ts';
import { createAuthenticator } from './http/auth.ts';
import { createApp, createHttpServer } from './http/server.ts';
import { RateLimits } from './http/limits.ts';
import { ConnectionSlots } from './delivery/slots.ts';
import type { Deps, Log } from './http/deps.ts';
import type PgBoss from 'pg-boss';
import { startBoss } from '../jobs/boss.ts';

export interface Service {
  url: string;
  port: number;
  databaseUrl: string;
  deps: Deps;
  listener: Listener;
  embedded: EmbeddedDb | null;
  /** pg-boss, when JOBS_ENABLED (the default). */
  boss: PgBoss | null;
  close(): Promise<void>;
}

export function createLogger(level: string): pino.Logger {
  return pino({
    level,
    base: { pid: process.pid },
    redact: { paths: ['req.headers.authorization', '*.authorization', '*.access_token', '*.token', '*.apiKey'], censor: '[redacted]' },
  });
}

export async function startService(config: Config, log: Log = createLogger(config.logLevel)): Promise<Service> {
  let embedded: EmbeddedDb | null = null;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    embedded = await startEmbedded({ dir: path.join(config.dataDir, 'pg'), log: (l) => log.debug({ pg: l }, 'embedded postgres') });
    databaseUrl = embedded.url;
  }
  const applied = await migrate(databaseUrl);
  if (applied.length) log.info({ applied }, 'migrations applied');
  const want = await expectedVersion();

  const onPoolError = (err: Error) => log.warn({ err: err.message }, 'idle database connection lost');
  const db: Pool = createPool(databaseUrl, {
    max: config.poolMax, acquireTimeoutMs: config.poolAcquireTimeoutMs, statementTimeoutMs: config.statementTimeoutMs, onError: onPoolError,
  });

  const registry = new WaiterRegistry();
  const wakeups = new Wakeups(registry);
  const reader = new InboxReader(db);
  const readHeads = (tenantId: string, users: readonly string[]) => heads(db, tenantId, users);

  const listener = new Listener(databaseUrl);
  listener.on('notification', (p) => wakeups.handle(p));
  listener.on('down', (err) => log.warn({ err: err.message }, 'LISTEN connection lost; reconnecting'));
  // Notifications sent while the connection was down are gone: re-check every waiter.
  listener.on('ready', () => {
    recheckAll(registry, readHeads).catch((err) => log.warn({ err: String(err) }, 're-check after reconnect failed'));
  });
  await listener.start();

  const boss = config.jobsEnabled
    ? await startBoss(databaseUrl, (err) => log.warn({ err: err.message }, 'job queue error'))
    : null;

  const publisher = new Publisher(db, { batchMax: config.publishBatchMax, concurrency: config.publishConcurrency });
  const auth = createAuthenticator(db, { cacheS: config.authCacheS, clockSkewS: config.jwtClockSkewS });
  const readiness = {
    async check() {
      let database = false;
      let migrations = false;
      try {
        migrations = (await schemaVersion(db)) === want;
        database = true;
      } catch {
        /* database unreachable */
      }
      return { database, migrations, listener: listener.ready };
    },
  };
  const rates = new RateLimits(config.rates);
  const slots = new ConnectionSlots({ streamsPerDevice: config.streamsPerDevice, streamsPerUser: config.streamsPerUser, total: config.connectionsMax });
  const deps: Deps = { config, db, registry, reader, publisher, auth, log, readiness, rates, slots };

  const server = createHttpServer(createApp(deps), config.http);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = config.publicUrl || `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;

  const tick = startSafetyTick(registry, readHeads, config.safetyTickS, (err) => log.warn({ err: String(err) }, 'safety tick failed'));

  let closing: Promise<void> | null = null;
  const close = () => (closing ??= (async () => {
    server.close();
    registry.closeAll(); // held polls answer, streams end: clients reconnect elsewhere
    server.closeIdleConnections();
    tick.stop();
    registry.stop();
    if (boss) await boss.stop({ graceful: true, timeout: 5000, wait: true }).catch(() => undefined);
    await listener.close();
    await db.end().catch(() => undefined);
    server.closeAllConnections();
    if (embedded) await embedded.stop();
  })());

  return { url, port, databaseUrl, deps, listener, embedded, boss, close };
}
