// Publishing (single and batch) and inbox history.
import { Router, type Request } from 'express';
import type { Deps } from '../deps.ts';
import { principal } from '../auth.ts';
import { parseBody, PublishBody, BatchBody, payloadJson, intParam, stringParam, matchParam, ID_RE, TYPE_RE, LIMITS } from '../validate.ts';
import { toApiError } from '../errors.ts';
import { ApiError } from '../../errors.ts';
import type { PublishResult } from '../../services/publish.ts';
import { history } from '../../services/inbox.ts';
import { withSeq } from '../../../db/queries/messageJson.ts';
import { API } from '../api.ts';
import { sinceArrival } from '../instrument.ts';

export function messageRoutes(d: Deps): Router {
  const r = Router();

  /** Publish latency (arrival to COMMIT) and the published count, for stored messages. */
  function observed(req: Request, out: PublishResult): PublishResult {
    const m = d.ops.metrics;
    if (m && out.status !== 200) {
      m.publishLatency.observe(sinceArrival(req.res!.locals));
      m.published.inc();
    }
    return out;
  }

  async function publishOne(req: Request, raw: unknown, idempotencyKey: string | undefined, field = ''): Promise<PublishResult> {
    const p = principal(req);
    const body = parseBody(PublishBody, raw, field);
    if ((body.to === undefined) === (body.group === undefined)) throw new ApiError('invalid_request', `${field}to/group: give exactly one of "to" or "group"`);
    let sender: string;
    let senderIsUser: boolean;
    if (p.kind === 'token') {
      if (!p.canPublish) throw new ApiError('forbidden', 'this token may not publish (scope "subscribe publish" needed)');
      if (body.from !== undefined && body.from !== p.userId) throw new ApiError('forbidden', `${field}from: a client token publishes as its own user`);
      sender = p.userId;
      senderIsUser = true;
    } else {
      sender = body.from ?? 'system';
      senderIsUser = body.from !== undefined;
    }
    const dedupId = body.dedupId ?? idempotencyKey ?? null;
    const tenant = await d.auth.tenant(p.tenantId);
    if (!tenant) throw new ApiError('unauthorized', 'the tenant no longer exists');
    const ttlS = Math.min(body.ttlSeconds ?? d.config.messageTtlDefaultS, tenant.maxTtlS);
    return observed(req, await d.publisher.publish({
      tenantId: p.tenantId, sender, senderIsUser, to: body.to ?? [], group: body.group ?? null, memberOnly: p.kind === 'token',
      type: body.type ?? 'message', payloadJson: payloadJson(body.payload, d.config.payloadMaxBytes), dedupId, ttlS,
    }));
  }

  function idempotencyKey(req: Request): string | undefined {
    const k = req.headers['idempotency-key'];
    if (k === undefined) return undefined;
    if (typeof k !== 'string' || !/^[\x21-\x7e]{1,128}$/.test(k)) throw new ApiError('invalid_request', 'Idempotency-Key: must be 1-128 printable ASCII characters');
    return k;
  }

  r.post(API.publish.path, async (req, res) => {
    await d.rates.publish(principal(req));
    const out = await publishOne(req, req.body, idempotencyKey(req));
    res.status(out.status).json(out.body);
  });

  // Each message is committed on its own (they still share group commits); one bad message fails alone.
  r.post(API.batch.path, async (req, res) => {
    const { messages } = parseBody(BatchBody, req.body);
    await d.rates.publish(principal(req), messages.length);
    const results = await Promise.all(messages.map(async (m, i) => {
      try {
        return (await publishOne(req, m, undefined, `messages[${i}].`)).body;
      } catch (err) {
        const api = toApiError(err);
        if (!api) {
          d.log.error({ err, reqId: req.id }, 'batch publish failed');
          return { error: 'internal', message: 'internal error', status: 500 };
        }
        return { error: api.code, message: api.message, status: api.status, ...api.extra };
      }
    }));
    res.status(200).json({ results });
  });

  r.get(API.history.path, async (req, res) => {
    const p = principal(req);
    let userId: string;
    if (p.kind === 'token') {
      userId = p.userId;
    } else {
      if (p.role !== 'admin') throw new ApiError('forbidden', 'reading an inbox needs a client token or an admin key');
      const u = stringParam(req.query, 'user', ID_RE, 'must be a user id');
      if (!u) throw new ApiError('invalid_request', 'user: is required with an API key');
      userId = u;
    }
    const q = req.query;
    const out = await history(d.db, {
      tenantId: p.tenantId, userId,
      before: intParam(q, 'before', { min: 0, max: Number.MAX_SAFE_INTEGER }) ?? null,
      after: intParam(q, 'after', { min: 0, max: Number.MAX_SAFE_INTEGER }) ?? null,
      type: stringParam(q, 'type', TYPE_RE, 'must be a message type') ?? null,
      match: matchParam(q, d.config.payloadMaxBytes) ?? null,
      limit: intParam(q, 'limit', { min: 1, max: LIMITS.historyLimit }) ?? 100,
    });
    res.setHeader('Cache-Control', 'no-store');
    res.type('application/json').send(`{"messages":[${out.rows.map((row) => withSeq(row.seq, row.body)).join(',')}],"more":${out.more}}`);
  });

  return r;
}
