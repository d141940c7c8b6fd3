// Prometheus metrics of one process (prom-client, a registry per service: no global state).
// Hot-path cost is a counter increment or a histogram observation; everything that needs the
// database (oldest unacknowledged entry, outbox backlog, dead letters, last job runs) is read by
// `Stats` at most once per cache period, when a scrape or the console asks.
import client from 'prom-client';
import type { Pool } from '../../db/pool.ts';
import type { Stats } from './stats.ts';

// Publish latency is a commit (ms); delivery latency spans live wake-ups (ms) to replays after an
// outage (minutes and more): both sets of buckets cover what an operator wants to tell apart.
const PUBLISH_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const DELIVERY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600];

export type Transport = 'poll' | 'stream';

export interface MetricsSources {
  pool: Pool;
  /** Held polls and open streams of this process. */
  held: () => { polls: number; streams: number };
  listenerReady: () => boolean;
  publishBacklog: () => number;
  stats: Stats;
}

export class Metrics {
  readonly registry = new client.Registry();
  readonly httpRequests: client.Counter<'method' | 'route' | 'status'>;
  readonly publishLatency: client.Histogram<never>;
  readonly deliveryLatency: client.Histogram<'transport'>;
  readonly published: client.Counter<never>;
  readonly delivered: client.Counter<'transport'>;
  readonly acknowledged: client.Counter<'via'>;
  readonly pollEnds: client.Counter<'end'>;
  readonly pollStarts: client.Counter<'start'>;
  readonly streamEnds: client.Counter<'end'>;
  readonly jobRuns: client.Counter<'job' | 'outcome'>;
  readonly jobDuration: client.Histogram<'job'>;
  readonly listenerDowns: client.Counter<never>;
  readonly signalsDelivered: client.Counter<never>;
  readonly presenceAsserts: client.Counter<never>;
  readonly presenceChanges: client.Counter<'state'>;

  constructor(src: MetricsSources) {
    const registers = [this.registry];
    client.collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 20 });
    this.httpRequests = new client.Counter({ name: 'mailslot_http_requests_total', help: 'HTTP requests answered, by route pattern and status', labelNames: ['method', 'route', 'status'], registers });
    this.publishLatency = new client.Histogram({ name: 'mailslot_publish_latency_seconds', help: 'Publish: request received to COMMIT returned', buckets: PUBLISH_BUCKETS, registers });
    this.deliveryLatency = new client.Histogram({
      name: 'mailslot_delivery_latency_seconds', labelNames: ['transport'], buckets: DELIVERY_BUCKETS, registers,
      help: 'Message createdAt (the publish transaction, just before its COMMIT) to its bytes written to a client connection',
    });
    this.published = new client.Counter({ name: 'mailslot_messages_published_total', help: 'Messages stored by publish requests (duplicates excluded)', registers });
    this.delivered = new client.Counter({ name: 'mailslot_messages_delivered_total', help: 'Inbox entries written to client connections', labelNames: ['transport'], registers });
    this.acknowledged = new client.Counter({ name: 'mailslot_messages_acknowledged_total', help: 'Inbox entries newly acknowledged by devices (cursor advance)', labelNames: ['via'], registers });
    this.pollEnds = new client.Counter({ name: 'mailslot_polls_total', help: 'Long polls ended, by how they ended', labelNames: ['end'], registers });
    this.pollStarts = new client.Counter({
      name: 'mailslot_poll_starts_total', help: 'Long polls started: by a start statement, or resumed from a settled answer without one', labelNames: ['start'], registers,
    });
    this.streamEnds = new client.Counter({ name: 'mailslot_streams_total', help: 'SSE streams ended, by how they ended', labelNames: ['end'], registers });
    this.jobRuns = new client.Counter({ name: 'mailslot_job_runs_total', help: 'Background job runs in this process, by outcome', labelNames: ['job', 'outcome'], registers });
    this.jobDuration = new client.Histogram({ name: 'mailslot_job_run_duration_seconds', help: 'Background job run duration in this process', labelNames: ['job'], buckets: [0.01, 0.05, 0.25, 1, 5, 30, 120], registers });
    this.listenerDowns = new client.Counter({ name: 'mailslot_listen_connection_losses_total', help: 'Times the LISTEN connection was lost', registers });
    this.signalsDelivered = new client.Counter({ name: 'mailslot_signals_delivered_total', help: 'Signals written to (or answered on) connections of this process', registers });
    this.presenceAsserts = new client.Counter({ name: 'mailslot_presence_asserts_total', help: 'Users this process reported connected to the presence table (one conditional write each)', registers });
    this.presenceChanges = new client.Counter({ name: 'mailslot_presence_changes_total', help: 'Online/offline changes this process decided and announced (each change is decided by one process)', labelNames: ['state'], registers });

    new client.Gauge({
      name: 'mailslot_held_connections', help: 'Held long polls and open SSE streams of this process', labelNames: ['transport'], registers,
      collect() {
        const h = src.held();
        this.set({ transport: 'poll' }, h.polls);
        this.set({ transport: 'stream' }, h.streams);
      },
    });
    new client.Gauge({
      name: 'mailslot_pg_pool_connections', help: 'Database pool connections by state', labelNames: ['state'], registers,
      collect() {
        this.set({ state: 'total' }, src.pool.totalCount);
        this.set({ state: 'idle' }, src.pool.idleCount);
        this.set({ state: 'waiting' }, src.pool.waitingCount);
      },
    });
    new client.Gauge({ name: 'mailslot_listen_connection_up', help: '1 when the LISTEN connection is connected and listening', registers, collect() { this.set(src.listenerReady() ? 1 : 0); } });
    new client.Gauge({ name: 'mailslot_publish_queue', help: 'Publishes waiting for a group-commit transaction', registers, collect() { this.set(src.publishBacklog()); } });

    // Database figures: one cached read per scrape at most (see stats.ts); NaN-free: absent tables give no sample.
    const stats = src.stats;
    new client.Gauge({
      name: 'mailslot_oldest_unacked_age_seconds', help: 'Age of the oldest inbox entry a device has not acknowledged (0: none)', registers,
      async collect() { this.set((await stats.get()).oldestUnackedAgeS ?? 0); },
    });
    // Labelled by table so that "no such table" is no sample at all, never a misleading 0.
    new client.Gauge({
      name: 'mailslot_outbox_backlog', help: 'Group fan-outs not finished (rows in outbox); no sample while the outbox table does not exist', labelNames: ['table'], registers,
      async collect() {
        this.reset();
        const n = (await stats.get()).outboxBacklog;
        if (n !== null) this.set({ table: 'outbox' }, n);
      },
    });
    new client.Gauge({
      name: 'mailslot_dead_letters', help: 'Dead-letter rows waiting for an operator; no sample while the dead_letters table does not exist', labelNames: ['table'], registers,
      async collect() {
        this.reset();
        const n = (await stats.get()).deadLetters;
        if (n !== null) this.set({ table: 'dead_letters' }, n);
      },
    });
    new client.Gauge({
      name: 'mailslot_job_last_run_timestamp_seconds', help: 'Start of the last recorded run of each job (any instance)', labelNames: ['job'], registers,
      async collect() {
        this.reset();
        for (const r of (await stats.get()).lastRuns) this.set({ job: r.job }, r.startedAt.getTime() / 1000);
      },
    });
    new client.Gauge({
      name: 'mailslot_job_last_run_failed', help: '1 when the last recorded run of the job failed', labelNames: ['job'], registers,
      async collect() {
        this.reset();
        for (const r of (await stats.get()).lastRuns) this.set({ job: r.job }, r.failed ? 1 : 0);
      },
    });
  }

  /** Entries just written to a client: counts them and observes their delivery latency. */
  delivery(transport: Transport, createdAtMs: readonly number[], now = Date.now()): void {
    this.delivered.inc({ transport }, createdAtMs.length);
    const h = this.deliveryLatency.labels(transport);
    for (const t of createdAtMs) h.observe(Math.max(0, now - t) / 1000);
  }

  /** A RunListener (jobs/runs.ts) that counts job runs. */
  readonly onJobRun = (job: string, durationMs: number, _r: unknown, error: string | null): void => {
    this.jobRuns.inc({ job, outcome: error === null ? 'ok' : 'error' });
    this.jobDuration.observe({ job }, durationMs / 1000);
  };

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
