// Composition: config -> database (embedded or external) -> migrations -> pool -> LISTEN ->
// waiter registry -> HTTP -> safety tick. Shutdown runs in reverse. Used by main.ts, the tests and
// the benchmarks alike, so all of them run the same wiring.
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import pretty from 'pino-pretty';
import type { Config } from './config.ts';
import { createPool, type Pool } from '../db/pool.ts';
import { migrate, schemaVersion, expectedVersion } from '../db/migrate.ts';
import { startEmbedded, type EmbeddedDb } from '../db/embedded.ts';
import { Listener } from '../db/listen.ts';
import { WaiterRegistry } from './delivery/waiters.ts';
import { Wakeups, reoffers } from './delivery/wakeups.ts';
import { recheckAfterLoss, startSafetyTick } from './delivery/safetyTick.ts';
import { InboxReader } from './services/reader.ts';
import { BodyCache } from './services/bodyCache.ts';
import { PagesAhead } from './delivery/pagesAhead.ts';
import { Resumes } from './delivery/resumes.ts';
import { PollAcks } from './services/pollAcks.ts';
import { localDelivery } from './delivery/local.ts';
import { DeviceTouches } from './services/touches.ts';
import { Publisher } from './services/publish.ts';
import { heads } from './services/inbox.ts';
import { createAuthenticator } from './http/auth.ts';
import { createHandler, createHttpServer } from './http/server.ts';
import { RateLimits } from './http/limits.ts';
import { ConnectionSlots } from './delivery/slots.ts';
import type { Deps } from './http/deps.ts';
import type PgBoss from 'pg-boss';
import { startBoss } from '../jobs/boss.ts';
import { startJobs, type Jobs } from '../jobs/index.ts';
import { DeliveredLog } from './services/delivered.ts';
import { startFanoutWorkers } from '../jobs/fanout.ts';
import type { RunListener } from '../jobs/runs.ts';
import { inProcessFanout } from './services/fanout.ts';
import { touchDevices } from './services/devices.ts';
import { readEvents } from './delivery/readEvents.ts';
import { startSeenRefresh } from './delivery/seen.ts';
import { REDACT_PATHS } from './http/logging.ts';
import { Metrics } from './ops/metrics.ts';
import { Stats } from './ops/stats.ts';
import { DeliveryLog } from './ops/deliveryLog.ts';
import crypto from 'node:crypto';
import { Signaller, presenceEvents } from './delivery/signals.ts';
import { PresenceTracker } from './delivery/presence.ts';
import { assertOnline, sweepOffline } from './services/presence.ts';

/** Pending connections the kernel queues for accept(); see server.listen below. */
const LISTEN_BACKLOG = 4096;

export interface Service {
  url: string;
  port: number;
  databaseUrl: string;
  deps: Deps;
  listener: Listener;
  embedded: EmbeddedDb | null;
  /** pg-boss, when JOBS_ENABLED (the default). */
  boss: PgBoss | null;
  /** Queues, workers and schedule triggers of the background jobs, with pg-boss. */
  jobs: Jobs | null;
  close(): Promise<void>;
}

/** JSON lines; readable lines when stdout is a terminal. `dest` captures output (tests). */
export function createLogger(level: string, dest?: pino.DestinationStream): pino.Logger {
  const opts: pino.LoggerOptions = { level, base: { pid: process.pid }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  if (dest) return pino(opts, dest);
  return process.stdout.isTTY ? pino(opts, pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid' })) : pino(opts);
}

export async function startService(config: Config, log: pino.Logger = createLogger(config.logLevel)): Promise<Service> {
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

  // Presence: every registered poll or stream tells the tracker its user is connected here.
  let presence: PresenceTracker | null = null;
  const registry = new WaiterRegistry(250, (w) => presence?.seen(w.tenantId, w.userId));
  // This process's name in the notifications it sends (its own are handled without them).
  const origin = crypto.randomBytes(6).toString('hex');
  const local = localDelivery(registry, origin, () => {
    recheckAfterLoss(registry, readHeads, (err) => log.warn({ err: String(err) }, 're-check after an uncertain publish failed'));
  });
  const wakeups = new Wakeups(registry, origin);
  wakeups.on('o', reoffers(registry));
  const delivered = new DeliveredLog(db, (err) => log.debug({ err: String(err) }, 'delivered hint not written'));
  const pollAcks = new PollAcks(db, (n) => metrics?.acknowledged.inc({ via: 'poll' }, n),
    (err) => log.warn({ err: String(err) }, 'poll acknowledgement not written'));
  wakeups.on('r', readEvents(registry));
  const signals = new Signaller(db, registry, {
    origin,
    onDelivered: (n) => metrics?.signalsDelivered.inc(n),
  });
  wakeups.on('s', signals.onNotification);
  wakeups.on('p', presenceEvents(registry));
  const bodies = new BodyCache(config.bodyCacheMb * 1024 * 1024);
  const reader = new InboxReader(db, bodies);
  const touches = new DeviceTouches(db);
  const readHeads = (tenantId: string, users: readonly string[]) => heads(db, tenantId, users);

  const stats = new Stats(db, config.statsCacheMs);
  const deliveries = config.deliveryLog
    ? new DeliveryLog(db, { flushMs: config.deliveryLogFlushMs, retentionS: config.deliveryLogRetentionS, onError: (err) => log.warn({ err: String(err) }, 'delivery record write failed') })
    : null;
  // Made below, once the publisher exists; its gauges read listener and publisher only when scraped.
  let metrics: Metrics | null = null;
  const listener = new Listener(databaseUrl);
  listener.on('notification', (p) => wakeups.handle(p));
  listener.on('down', (err) => {
    metrics?.listenerDowns.inc();
    log.warn({ err: err.message }, 'LISTEN connection lost; reconnecting');
  });
  // Notifications sent while the connection was down are gone: re-check every waiter.
  listener.on('ready', () => {
    recheckAfterLoss(registry, readHeads, (err) => log.warn({ err: String(err) }, 're-check after reconnect failed'));
  });
  await listener.start();
  const resumes = new Resumes(registry, () => listener.ready);

  const boss = config.jobsEnabled
    ? await startBoss(databaseUrl, (err) => log.warn({ err: err.message }, 'job queue error'))
    : null;
  const onRun: RunListener = (...run) => metrics?.onJobRun(...run);
  const jobs = boss ? await startJobs({ boss, db, config, log, onRun }) : null;

  // Without jobs in this process a queued fan-out runs here; its outbox row still guards a crash.
  const onFanoutError = (err: unknown, messageId: string) => log.warn({ err: String(err), messageId }, 'fan-out hand-off failed; the re-drive scan will retry');
  const fanout = boss
    ? await startFanoutWorkers(boss, db, { batchSize: config.groupFanoutBatch, workers: 2, onRun })
    : inProcessFanout(db, config.groupFanoutBatch, (err, job) => onFanoutError(err, job.messageId));
  const publisher = new Publisher(db, {
    batchMax: config.publishBatchMax, concurrency: config.publishConcurrency, groupInlineMax: config.groupInlineMax, fanout, onFanoutError,
    local, bodies,
  });
  const auth = createAuthenticator(db, { cacheS: config.authCacheS, clockSkewS: config.jwtClockSkewS });
  if (config.metricsEnabled) {
    metrics = new Metrics({
      pool: db, held: () => ({ polls: registry.polls, streams: registry.streamCount }), listenerReady: () => listener.ready,
      publishBacklog: () => publisher.backlog, stats,
    });
  }
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
  const deps: Deps = {
    config, db, registry, reader, touches, pagesAhead: new PagesAhead(), resumes, pollAcks, publisher, signals, delivered, auth, log, readiness, rates, slots,
    ops: { metrics, deliveries, stats }, httpLog: config.logHttp ? log : null, listenerReady: () => listener.ready,
  };

  const server = createHttpServer(createHandler(deps), config.http);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // A reconnect storm after a restart or a proxy reload opens thousands of connections at once;
    // Node's default backlog (511) drops the rest, which then wait 1-3-7 s for SYN retries. The
    // kernel caps this at net.core.somaxconn.
    server.listen(config.port, config.host, LISTEN_BACKLOG, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = config.publicUrl || `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;

  const tick = startSafetyTick(registry, readHeads, config.safetyTickS, (err) => log.warn({ err: String(err) }, 'safety tick failed'));
  const seen = startSeenRefresh(registry, (t, u, dv) => touchDevices(db, t, u, dv), config.deviceOnlineWindowS,
    (err) => log.warn({ err: String(err) }, 'device last_seen refresh failed'));
  presence = new PresenceTracker(registry, (t, u, w) => assertOnline(db, t, u, w), (w, n) => sweepOffline(db, w, n), {
    windowS: config.deviceOnlineWindowS,
    onError: (err) => log.warn({ err: String(err) }, 'presence update failed'),
    onAsserted: (n) => metrics?.presenceAsserts.inc(n),
    onChange: (online, n) => metrics?.presenceChanges.inc({ state: online ? 'online' : 'offline' }, n),
  });

  let closing: Promise<void> | null = null;
  const close = () => (closing ??= (async () => {
    server.close();
    registry.closeAll(); // held polls answer, streams end: clients reconnect elsewhere
    server.closeIdleConnections();
    tick.stop();
    seen.stop();
    await presence?.stop();
    registry.stop();
    jobs?.stop();
    await Promise.all([delivered.settle(), pollAcks.settle()]);
    if (boss) await boss.stop({ graceful: true, timeout: 5000, wait: true }).catch(() => undefined);
    await listener.close();
    await deliveries?.close();
    await db.end().catch(() => undefined);
    server.closeAllConnections();
    if (embedded) await embedded.stop();
  })());

  return { url, port, databaseUrl, deps, listener, embedded, boss, jobs, close };
}
