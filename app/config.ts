// The only reader of process.env. Every setting is typed, has a default with its reason, and is
// listed in .env.example. A bad value stops the process at start rather than misbehaving later.
import cron from 'node-cron';

export interface Config {
  /** Interface to bind. Loopback by default: the demo should not be reachable from the network. */
  host: string;
  /** 0 picks a free port (tests, several instances on one machine). */
  port: number;
  /** Public base URL printed at start; derived from host/port when empty. */
  publicUrl: string;
  /** Empty: run an embedded PostgreSQL whose data lives in `dataDir`. */
  databaseUrl: string;
  dataDir: string;
  /** Connections in the pool: publishes are group-committed, so a few connections go a long way. */
  poolMax: number;
  /** How long a request waits for a pool connection before answering 503 (database outage). */
  poolAcquireTimeoutMs: number;
  /** statement_timeout for request queries: bounds a hang when the database is sick. */
  statementTimeoutMs: number;
  logLevel: string;
  /** One log line per request (pino-http). Off only to measure its cost. */
  logHttp: boolean;
  /** Prometheus metrics (counters and histograms on the hot path). Off only to measure their cost. */
  metricsEnabled: boolean;
  /** Who may GET /metrics: `loopback` (open to 127.0.0.1/::1, admin key otherwise), `key` (always an admin key), `open`. */
  metricsAuth: 'loopback' | 'key' | 'open';
  /** Database-derived figures (oldest unacked entry, outbox, dead letters) are re-read at most this often. */
  statsCacheMs: number;
  /** Record every write of entries to a connection (the delivery trace). */
  deliveryLog: boolean;
  deliveryLogFlushMs: number;
  deliveryLogRetentionS: number;

  pollTimeoutDefaultS: number;
  pollTimeoutMaxS: number;
  streamHeartbeatS: number;
  streamMaxLifetimeS: number;
  streamRetryMs: number;
  /** Safety tick: how often local waiters are re-checked against the database (lost NOTIFY). */
  safetyTickS: number;

  payloadMaxBytes: number;
  messageTtlDefaultS: number;
  /** Upper bound of a tenant's maximum TTL when the tenant sets none. */
  messageTtlMaxS: number;
  tokenTtlMaxS: number;
  jwtClockSkewS: number;
  /** How long a verified API key stays cached: a revoked key may work this much longer. */
  authCacheS: number;
  /** Message bodies kept in memory for readers (MiB); 0 reads every body from the database. */
  bodyCacheMb: number;

  /** Publishes arriving together share one transaction; at most this many per transaction. */
  publishBatchMax: number;
  /** How many group-commit transactions may be in flight at once (1: measured fastest, see .env.example). */
  publishConcurrency: number;

  /** Groups up to this size are fanned out in the publish transaction; larger ones by jobs (202). */
  groupInlineMax: number;
  /** Members per fan-out batch transaction (bounds lock time and memory per transaction). */
  groupFanoutBatch: number;
  /** The compensation scan re-drives a queued fan-out not finished this long after its last progress. */
  fanoutStuckS: number;
  /** Most members a group may have (the outbox holds the member list of a queued message). */
  groupMaxMembers: number;
  /** A device seen this recently counts as online on every instance (held connections refresh it); presence uses it as its debounce. */
  deviceOnlineWindowS: number;

  /** Run pg-boss and the background jobs in this process (every instance may; they coordinate). */
  jobsEnabled: boolean;
  /** When the compensation scan runs (cron, 5 fields, or 6 with seconds first); once per tick cluster-wide. */
  compensationCron: string;
  /** When TTL cleanup runs (same format). */
  ttlCleanupCron: string;
  /** Entries written to a device and not acknowledged this long are re-offered. */
  ackDeadlineS: number;
  /** Wait after the first re-offer; each later wait is `factor` times the previous one. */
  ackRetryBaseS: number;
  ackRetryFactor: number;
  /** Re-offers before the range goes to dead_letters and the device is marked offline. */
  ackMaxAttempts: number;
  /** Rows deleted per TTL cleanup transaction. */
  ttlBatch: number;
  /** A cleanup run stops starting new batches after this long; the next run goes on. */
  ttlBudgetMs: number;
  /** job_runs rows older than this are pruned by the cleanup job. */
  jobRunsKeepDays: number;
  corsOrigins: readonly string[];
  /** Create the `demo` tenant and print its key on first start (default: only with the embedded DB). */
  demoTenant: boolean;

  /** HTTP server limits (slowloris, idle sockets, huge headers); see createHttpServer. */
  http: HttpLimits;
  /** Token buckets (per second + burst) for publishes and connection opens; 0 per second = off. */
  rates: RateLimitsConfig;
  /** Concurrent held connections. */
  streamsPerDevice: number;
  streamsPerUser: number;
  /** Held polls + open streams in this process; above it new ones get 503. */
  connectionsMax: number;
  /** A stream whose client has not taken its data for this long is closed (it resumes from its cursor). */
  streamSlowCloseMs: number;
  /** A stream with more than this many bytes queued in the process is closed. */
  streamMaxBufferedBytes: number;
}

export interface HttpLimits {
  headersTimeoutMs: number;
  /** Whole request, body included (held polls are not affected: their request is read at once). */
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxHeaderBytes: number;
}

/** One token bucket: `perS` tokens a second, plus `burst` extra that refill over 10 s. */
export interface Rate {
  perS: number;
  burst: number;
}

export interface RateLimitsConfig {
  publishDevice: Rate;
  publishKey: Rate;
  publishTenant: Rate;
  connectDevice: Rate;
  connectTenant: Rate;
}

type Env = Record<string, string | undefined>;

class ConfigError extends Error {}

function int(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be an integer, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

function bool(env: Env, name: string, def: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

function num(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (!/^\d+(\.\d+)?$/.test(raw.trim())) throw new ConfigError(`${name} must be a number, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

function cronExpr(env: Env, name: string, def: string): string {
  const raw = str(env, name, def).trim();
  if (!cron.validate(raw)) throw new ConfigError(`${name} must be a cron expression, got "${raw}"`);
  return raw;
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], def: T): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (!(allowed as readonly string[]).includes(raw)) throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got "${raw}"`);
  return raw as T;
}

function str(env: Env, name: string, def: string): string {
  const raw = env[name];
  return raw === undefined || raw === '' ? def : raw;
}

function rate(env: Env, name: string, perS: number, burst: number): Rate {
  return Object.freeze({ perS: int(env, `${name}_PER_S`, perS, 0, 10_000_000), burst: int(env, `${name}_BURST`, burst, 0, 100_000_000) });
}

/** Builds the config from an environment (process.env by default); overrides win (tests). */
export function loadConfig(env: Env = process.env, overrides: Partial<Config> = {}): Config {
  const databaseUrl = str(env, 'DATABASE_URL', '');
  const cfg: Config = {
    host: str(env, 'HOST', '127.0.0.1'),
    port: int(env, 'PORT', 8080, 0, 65535),
    publicUrl: str(env, 'PUBLIC_URL', ''),
    databaseUrl,
    dataDir: str(env, 'MAILSLOT_DATA_DIR', '.mailslot'),
    poolMax: int(env, 'PG_POOL_MAX', 12, 2, 200),
    poolAcquireTimeoutMs: int(env, 'PG_ACQUIRE_TIMEOUT_MS', 3000, 100, 60000),
    statementTimeoutMs: int(env, 'PG_STATEMENT_TIMEOUT_MS', 10000, 100, 600000),
    logLevel: str(env, 'LOG_LEVEL', 'info'),
    logHttp: bool(env, 'LOG_HTTP', true),
    metricsEnabled: bool(env, 'METRICS_ENABLED', true),
    metricsAuth: oneOf(env, 'METRICS_AUTH', ['loopback', 'key', 'open'] as const, 'loopback'),
    // Scrapes come every 15-60 s; several consoles polling every 2 s still cost one read per 5 s.
    statsCacheMs: int(env, 'STATS_CACHE_MS', 5000, 0, 600000),
    deliveryLog: bool(env, 'DELIVERY_LOG', true),
    // One INSERT a second carries every write of that interval (a device's continuing writes share a row).
    deliveryLogFlushMs: int(env, 'DELIVERY_LOG_FLUSH_MS', 1000, 10, 60000),
    // As long as a message lives by default (72 h): a trace of an expired message has nothing to show.
    deliveryLogRetentionS: int(env, 'DELIVERY_LOG_RETENTION_S', 259200, 60, 10 * 365 * 86400),

    // 25 s stays under the 30-60 s idle timeouts of common proxies and load balancers.
    pollTimeoutDefaultS: int(env, 'POLL_TIMEOUT_DEFAULT_S', 25, 0, 3600),
    pollTimeoutMaxS: int(env, 'POLL_TIMEOUT_MAX_S', 60, 1, 3600),
    // 15 s: below every common proxy idle cut-off, cheap for the server.
    streamHeartbeatS: int(env, 'STREAM_HEARTBEAT_S', 15, 1, 300),
    // Streams are recycled so that proxies and load balancers rebalance; clients resume losslessly.
    streamMaxLifetimeS: int(env, 'STREAM_MAX_LIFETIME_S', 600, 1, 86400),
    streamRetryMs: int(env, 'STREAM_RETRY_MS', 3000, 0, 600000),
    safetyTickS: int(env, 'SAFETY_TICK_S', 3, 1, 59),

    payloadMaxBytes: int(env, 'PAYLOAD_MAX_BYTES', 65536, 16, 16 * 1024 * 1024),
    messageTtlDefaultS: int(env, 'MESSAGE_TTL_DEFAULT_S', 259200, 1, 10 * 365 * 86400),
    messageTtlMaxS: int(env, 'MESSAGE_TTL_MAX_S', 30 * 86400, 1, 10 * 365 * 86400),
    tokenTtlMaxS: int(env, 'TOKEN_TTL_MAX_S', 30 * 86400, 60, 365 * 86400),
    jwtClockSkewS: int(env, 'JWT_CLOCK_SKEW_S', 30, 0, 300),
    authCacheS: int(env, 'AUTH_CACHE_S', 30, 0, 3600),
    // 64 MiB holds about the last 200,000 small messages: a device back from minutes offline (the
    // common catch-up) reads only its entries from the database.
    bodyCacheMb: int(env, 'BODY_CACHE_MB', 64, 0, 65536),

    publishBatchMax: int(env, 'PUBLISH_BATCH_MAX', 256, 1, 5000),
    publishConcurrency: int(env, 'PUBLISH_CONCURRENCY', 1, 1, 64),

    // 1000 inline members keep a publish transaction in the low milliseconds; beyond that the
    // sender should not wait, and one long transaction would hold many inbox locks at once.
    groupInlineMax: int(env, 'GROUP_INLINE_MAX', 1000, 0, 100_000),
    groupFanoutBatch: int(env, 'GROUP_FANOUT_BATCH', 1000, 1, 10_000),
    // Long enough that a fan-out still working through a pg-boss backlog is rarely sent twice
    // (harmless: batches are idempotent), short enough that a crash is repaired within minutes.
    fanoutStuckS: int(env, 'FANOUT_STUCK_S', 60, 1, 86400),
    groupMaxMembers: int(env, 'GROUP_MAX_MEMBERS', 100_000, 1, 1_000_000),
    // 30 s: longer than a poll's gap between two requests, short enough to notice a vanished client.
    deviceOnlineWindowS: int(env, 'DEVICE_ONLINE_WINDOW_S', 30, 2, 86400),

    jobsEnabled: bool(env, 'JOBS_ENABLED', true),
    // Every minute: a stuck fan-out or an unacknowledged range waits at most a minute past its deadline.
    compensationCron: cronExpr(env, 'COMPENSATION_CRON', '* * * * *'),
    // Every minute: expired rows go in small steps rather than in a few big ones.
    ttlCleanupCron: cronExpr(env, 'TTL_CLEANUP_CRON', '* * * * *'),
    // 60 s: far longer than any healthy client takes to ack, short enough that a stuck one is noticed.
    ackDeadlineS: int(env, 'ACK_DEADLINE_S', 60, 1, 86400),
    // 30 s doubling, 5 times: re-offers at 60 s, +30, +60, +120, +240; dead letter ~16 min after delivery.
    ackRetryBaseS: int(env, 'ACK_RETRY_BASE_S', 30, 1, 86400),
    ackRetryFactor: num(env, 'ACK_RETRY_FACTOR', 2, 1, 10),
    ackMaxAttempts: int(env, 'ACK_MAX_ATTEMPTS', 5, 0, 50),
    // 5,000 rows: a transaction of a few tens of milliseconds; writers never wait on it for long.
    ttlBatch: int(env, 'TTL_BATCH', 5000, 10, 100000),
    // 20 s: well inside the default one-minute schedule, so runs do not queue up behind each other.
    ttlBudgetMs: int(env, 'TTL_BUDGET_MS', 20000, 100, 3600000),
    jobRunsKeepDays: int(env, 'JOB_RUNS_KEEP_DAYS', 7, 1, 3650),
    corsOrigins: Object.freeze(str(env, 'CORS_ORIGINS', '').split(',').map((s) => s.trim()).filter(Boolean)),
    demoTenant: bool(env, 'MAILSLOT_DEMO', databaseUrl === ''),

    http: Object.freeze({
      // 10 s for the request head is generous for any real client and short for a slowloris.
      headersTimeoutMs: int(env, 'HTTP_HEADERS_TIMEOUT_MS', 10_000, 500, 300_000),
      // A publish body (at most 8 MB for a batch) must arrive within this; held polls are unaffected.
      requestTimeoutMs: int(env, 'HTTP_REQUEST_TIMEOUT_MS', 30_000, 500, 600_000),
      // Idle keep-alive sockets: just above what browsers and proxies reuse, so they are not cut mid-reuse.
      // Longer than the idle timeout of the proxies and load balancers in front (60 s is common):
      // a socket the server closes while the other side reuses it loses that request (EPIPE).
      keepAliveTimeoutMs: int(env, 'HTTP_KEEPALIVE_TIMEOUT_MS', 65_000, 100, 600_000),
      // 16 KiB: a JWT and cookies fit many times over; more is abuse.
      maxHeaderBytes: int(env, 'HTTP_MAX_HEADER_BYTES', 16_384, 1024, 1024 * 1024),
    }),
    rates: Object.freeze({
      // A client token publishing: a person typing or a script, not a firehose.
      publishDevice: rate(env, 'RATE_PUBLISH_DEVICE', 20, 100),
      // Server-side API keys (and the benchmarks) publish tens of thousands a second: generous.
      publishKey: rate(env, 'RATE_PUBLISH_KEY', 50_000, 100_000),
      publishTenant: rate(env, 'RATE_PUBLISH_TENANT', 100_000, 200_000),
      // A poller re-polls once per answer; a hot inbox answers often. Stops reconnect storms.
      connectDevice: rate(env, 'RATE_CONNECT_DEVICE', 50, 200),
      // Thousands of browsers reconnecting at once after a deploy must get through.
      connectTenant: rate(env, 'RATE_CONNECT_TENANT', 20_000, 50_000),
    }),
    // A few tabs sharing one token; more is a bug in the client.
    streamsPerDevice: int(env, 'STREAMS_PER_DEVICE_MAX', 8, 1, 10_000),
    streamsPerUser: int(env, 'STREAMS_PER_USER_MAX', 64, 1, 100_000),
    // A held connection costs a socket and a few KB: 50,000 fit in ~1 GB with room to spare.
    connectionsMax: int(env, 'CONNECTIONS_MAX', 50_000, 1, 10_000_000),
    streamSlowCloseMs: int(env, 'STREAM_SLOW_CLOSE_MS', 30_000, 100, 3_600_000),
    streamMaxBufferedBytes: int(env, 'STREAM_MAX_BUFFERED_BYTES', 1024 * 1024, 65_536, 1024 * 1024 * 1024),
    ...overrides,
  };
  if (cfg.pollTimeoutDefaultS > cfg.pollTimeoutMaxS) {
    throw new ConfigError('POLL_TIMEOUT_DEFAULT_S must not exceed POLL_TIMEOUT_MAX_S');
  }
  if (cfg.messageTtlDefaultS > cfg.messageTtlMaxS) {
    throw new ConfigError('MESSAGE_TTL_DEFAULT_S must not exceed MESSAGE_TTL_MAX_S');
  }
  if (cfg.http.headersTimeoutMs > cfg.http.requestTimeoutMs) {
    throw new ConfigError('HTTP_HEADERS_TIMEOUT_MS must not exceed HTTP_REQUEST_TIMEOUT_MS');
  }
  if (cfg.streamsPerDevice > cfg.streamsPerUser) {
    throw new ConfigError('STREAMS_PER_DEVICE_MAX must not exceed STREAMS_PER_USER_MAX');
  }
  if (cfg.publishConcurrency >= cfg.poolMax) {
    throw new ConfigError('PUBLISH_CONCURRENCY must be below PG_POOL_MAX (reads need connections too)');
  }
  return Object.freeze(cfg);
}
