// Publishing (single and batch) and inbox history. A single publish is served on the hot path
// (publishHandler, on a Call); the batch and history are express routes.
import type { IncomingMessage } from 'node:http';
import { Router } from 'express';
import type { Deps } from '../deps.ts';
import { principal, inboxOwner } from '../auth.ts';
import type { Principal } from '../../services/credentials.ts';
import { parseBody, PublishBody, BatchBody, payloadJson, intParam, stringParam, matchParam, TYPE_RE, LIMITS } from '../validate.ts';
import { toApiError } from '../errors.ts';
import { ApiError } from '../../errors.ts';
import type { PublishResult } from '../../services/publish.ts';
import { history } from '../../services/inbox.ts';
import { withSeq } from '../../../db/queries/messageJson.ts';
import { API } from '../api.ts';
import { arrivedAt } from '../instrument.ts';
import { respond, JSON_TYPE, type Call } from '../call.ts';

function idempotencyKey(req: IncomingMessage): string | undefined {
  const k = req.headers['idempotency-key'];
  if (k === undefined) return undefined;
  if (typeof k !== 'string' || !/^[\x21-\x7e]{1,128}$/.test(k)) throw new ApiError('invalid_request', 'Idempotency-Key: must be 1-128 printable ASCII characters');
  return k;
}

/** A publisher of single messages for one principal's requests (the batch runs many). */
function publishing(d: Deps) {
  /** Publish latency (arrival to COMMIT) and the published count, for stored messages. */
  function observed(t0: number, out: PublishResult): PublishResult {
    const m = d.ops.metrics;
    if (m && out.status !== 200) {
      m.publishLatency.observe((performance.now() - t0) / 1000);
      m.published.inc();
    }
    return out;
  }

  return async function publishOne(p: Principal, t0: number, raw: unknown, idempotencyKey: string | undefined, field = ''): Promise<PublishResult> {
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
    return observed(t0, await d.publisher.publish({
      tenantId: p.tenantId, sender, senderIsUser, to: body.to ?? [], group: body.group ?? null, memberOnly: p.kind === 'token',
      type: body.type ?? 'message', payloadJson: payloadJson(body.payload, d.config.payloadMaxBytes), dedupId, ttlS,
    }));
  };
}

/** POST /v1/messages, on the hot path. */
export function publishHandler(d: Deps): (call: Call) => Promise<void> {
  const publishOne = publishing(d);
  return async (call) => {
    const p = principal(call);
    await d.rates.publish(p);
    const out = await publishOne(p, call.t0, call.body, idempotencyKey(call.req));
    respond(call, out.status, JSON_TYPE, JSON.stringify(out.body));
  };
}

export function messageRoutes(d: Deps): Router {
  const r = Router();
  const publishOne = publishing(d);

  // Each message is committed on its own (they still share group commits); one bad message fails alone.
  r.post(API.batch.path, async (req, res) => {
    const { messages } = parseBody(BatchBody, req.body);
    const p = principal(req);
    await d.rates.publish(p, messages.length);
    const t0 = arrivedAt(res.locals);
    const results = await Promise.all(messages.map(async (m, i) => {
      try {
        return (await publishOne(p, t0, m, undefined, `messages[${i}].`)).body;
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
    const { tenantId, userId } = inboxOwner(req, 'reading an inbox');
    const q = req.query;
    const out = await history(d.db, {
      tenantId: tenantId, userId,
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
