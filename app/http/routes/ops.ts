// Operations: /metrics, /openapi.json, and the admin endpoints behind the console and the CLI
// (message trace, live figures, job runs, a user's devices). Admin endpoints are per tenant (the
// key's); /metrics and the live figures are of this process, across tenants.
import { Router, type Request } from 'express';
import type { Deps } from '../deps.ts';
import { apiKey } from '../auth.ts';
import { API, openApiDocument, type RouteSpec } from '../api.ts';
import { ID_RE, intParam, stringParam } from '../validate.ts';
import { ApiError, invalid } from '../../errors.ts';
import { traceMessage } from '../../services/trace.ts';
import { recentJobRuns } from '../../../db/queries/jobRuns.ts';
import { userDevices } from '../../../db/queries/ops.ts';
import type { Metrics } from '../../ops/metrics.ts';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function isLoopback(req: Request): boolean {
  const a = req.socket.remoteAddress ?? '';
  return a === '::1' || a.startsWith('127.') || a.startsWith('::ffff:127.');
}

async function histogram(m: Metrics['publishLatency'] | Metrics['deliveryLatency']) {
  const buckets = new Map<number, number>();
  let count = 0;
  let sum = 0;
  for (const v of (await m.get()).values) {
    const labels = v.labels as Record<string, string | number>;
    if (v.metricName?.endsWith('_bucket')) {
      const le = labels.le === '+Inf' ? Infinity : Number(labels.le);
      buckets.set(le, (buckets.get(le) ?? 0) + v.value);
    } else if (v.metricName?.endsWith('_count')) count += v.value;
    else if (v.metricName?.endsWith('_sum')) sum += v.value;
  }
  // JSON has no Infinity: the last bucket is count itself.
  return { count, sum, buckets: [...buckets].filter(([le]) => le !== Infinity).map(([le, n]) => [le, n]) };
}

async function total(c: { get(): Promise<{ values: { labels: Record<string, string | number>; value: number }[] }> }, by?: string) {
  const out: Record<string, number> = {};
  let all = 0;
  for (const v of (await c.get()).values) {
    all += v.value;
    if (by) out[String(v.labels[by])] = (out[String(v.labels[by])] ?? 0) + v.value;
  }
  return by ? { total: all, ...out } : all;
}

export function opsRoutes(d: Deps, routes: readonly RouteSpec[] = Object.values(API)): Router {
  const r = Router();
  let doc: string | null = null;

  r.get(API.openapi.path, (_req, res) => {
    doc ??= JSON.stringify(openApiDocument(routes, d.config.publicUrl || undefined));
    res.type('application/json').send(doc);
  });

  r.get(API.metrics.path, async (req, res) => {
    const m = d.ops.metrics;
    if (!m) throw new ApiError('not_found', 'metrics are disabled (METRICS_ENABLED=false)');
    const mode = d.config.metricsAuth;
    if (mode === 'key' || (mode === 'loopback' && !isLoopback(req))) {
      const p = await d.auth.authenticate(req);
      if (p.kind !== 'key' || p.role !== 'admin') throw new ApiError('forbidden', '/metrics needs an admin API key from this address');
    }
    res.setHeader('Cache-Control', 'no-store');
    res.type(m.registry.contentType).send(await m.text());
  });

  r.get(API.trace.path, async (req, res) => {
    const key = apiKey(req, 'admin');
    const id = String(req.params.id);
    if (!UUID_RE.test(id)) throw invalid('id: must be a message id (UUID)');
    const t = await traceMessage(d.db, key.tenantId, id.toLowerCase());
    if (!t) throw new ApiError('not_found', `no message ${id} in this tenant (never published, or expired)`);
    res.setHeader('Cache-Control', 'no-store');
    res.json(t);
  });

  r.get(API.overview.path, async (req, res) => {
    apiKey(req, 'admin');
    const m = d.ops.metrics;
    const f = await d.ops.stats.get();
    res.setHeader('Cache-Control', 'no-store');
    res.json({
      at: new Date().toISOString(),
      metrics: m !== null,
      held: { poll: d.registry.polls, stream: d.registry.streamCount },
      published: m ? await total(m.published) : null,
      delivered: m ? await total(m.delivered, 'transport') : null,
      acknowledged: m ? await total(m.acknowledged) : null,
      publishLatency: m ? await histogram(m.publishLatency) : null,
      deliveryLatency: m ? await histogram(m.deliveryLatency) : null,
      oldestUnackedAgeS: f.oldestUnackedAgeS,
      outboxBacklog: f.outboxBacklog,
      deadLetters: f.deadLetters,
      figuresAt: f.at.toISOString(),
      figuresStale: f.stale === true,
      listener: d.listenerReady(),
      pool: { total: d.db.totalCount, idle: d.db.idleCount, waiting: d.db.waitingCount },
    });
  });

  r.get(API.jobRuns.path, async (req, res) => {
    apiKey(req, 'admin');
    const job = stringParam(req.query, 'job', /^[a-z0-9_.-]{1,64}$/, 'must be a job name') ?? null;
    const limit = intParam(req.query, 'limit', { min: 1, max: 200 }) ?? 20;
    const runs = await recentJobRuns(d.db, limit, job);
    res.json({ runs: runs.map((x) => ({ ...x, startedAt: x.startedAt.toISOString() })) });
  });

  r.get(API.userDevices.path, async (req, res) => {
    const key = apiKey(req, 'admin');
    const user = String(req.params.user);
    if (!ID_RE.test(user)) throw invalid('user: must be a user id');
    const rows = await userDevices(d.db, key.tenantId, user);
    const here = new Set(d.registry.waitersOf(key.tenantId, user).map((w) => w.deviceId));
    // Online: holding a poll or stream on this instance, or seen within the longest poll (another instance).
    const recent = Date.now() - (d.config.pollTimeoutMaxS + 5) * 1000;
    res.setHeader('Cache-Control', 'no-store');
    res.json({
      user,
      devices: rows.map((x) => ({
        device: x.deviceId, cursor: x.ackedSeq, head: x.head, read: x.readSeq, lastSeen: x.lastSeen.toISOString(),
        online: here.has(x.deviceId) || x.lastSeen.getTime() >= recent, connectedHere: here.has(x.deviceId),
      })),
    });
  });

  return r;
}
