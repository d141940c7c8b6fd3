// The only reader of process.env. Every setting is typed, has a default with its reason, and is
// listed in .env.example. A bad value stops the process at start rather than misbehaving later.

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

  /** Publishes arriving together share one transaction; at most this many per transaction. */
  publishBatchMax: number;
  /** How many group-commit transactions may be in flight at once. */
  publishConcurrency: number;

  /** Run pg-boss and the background jobs in this process (every instance may; they coordinate). */
  jobsEnabled: boolean;
  corsOrigins: readonly string[];
  /** Create the `demo` tenant and print its key on first start (default: only with the embedded DB). */
  demoTenant: boolean;
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
    // One INSERT per quarter second carries every write of that interval.
    deliveryLogFlushMs: int(env, 'DELIVERY_LOG_FLUSH_MS', 250, 10, 60000),
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

    publishBatchMax: int(env, 'PUBLISH_BATCH_MAX', 256, 1, 5000),
    publishConcurrency: int(env, 'PUBLISH_CONCURRENCY', 4, 1, 64),

    jobsEnabled: bool(env, 'JOBS_ENABLED', true),
    corsOrigins: Object.freeze(str(env, 'CORS_ORIGINS', '').split(',').map((s) => s.trim()).filter(Boolean)),
    demoTenant: bool(env, 'MAILSLOT_DEMO', databaseUrl === ''),
    ...overrides,
  };
  if (cfg.pollTimeoutDefaultS > cfg.pollTimeoutMaxS) {
    throw new ConfigError('POLL_TIMEOUT_DEFAULT_S must not exceed POLL_TIMEOUT_MAX_S');
  }
  if (cfg.messageTtlDefaultS > cfg.messageTtlMaxS) {
    throw new ConfigError('MESSAGE_TTL_DEFAULT_S must not exceed MESSAGE_TTL_MAX_S');
  }
  if (cfg.publishConcurrency >= cfg.poolMax) {
    throw new ConfigError('PUBLISH_CONCURRENCY must be below PG_POOL_MAX (reads need connections too)');
  }
  return Object.freeze(cfg);
}
