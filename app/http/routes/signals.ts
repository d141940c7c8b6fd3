// POST /v1/signals (ephemeral, QoS 0) and GET /v1/presence.
import { Router } from 'express';
import type { Deps } from '../deps.ts';
import { principal } from '../auth.ts';
import { parseBody, SignalBody, payloadJson, usersParam, LIMITS } from '../validate.ts';
import { ApiError } from '../../errors.ts';
import { presence } from '../../services/presence.ts';
import { API } from '../api.ts';

export function signalRoutes(d: Deps): Router {
  const r = Router();

  r.post(API.signals.path, async (req, res) => {
    const p = principal(req);
    // Signals spend the same rate-limit buckets as publishes (per device, per key, per tenant).
    await d.rates.publish(p);
    const body = parseBody(SignalBody, req.body);
    if ((body.to === undefined) === (body.group === undefined)) throw new ApiError('invalid_request', 'to/group: give exactly one of "to" or "group"');
    let sender: string;
    if (p.kind === 'token') {
      if (!p.canPublish) throw new ApiError('forbidden', 'this token may not send signals (scope "subscribe publish" needed)');
      if (body.from !== undefined && body.from !== p.userId) throw new ApiError('forbidden', 'from: a client token signals as its own user');
      sender = p.userId;
    } else {
      sender = body.from ?? 'system';
    }
    const out = await d.signals.send({
      tenantId: p.tenantId, sender, fromToken: p.kind === 'token', to: body.to ?? null, group: body.group ?? null,
      type: body.type ?? 'signal', payloadJson: payloadJson(body.payload, Math.min(LIMITS.signalPayloadBytes, d.config.payloadMaxBytes)),
    });
    res.status(202).json(out);
  });

  r.get(API.presence.path, async (req, res) => {
    const p = principal(req);
    if (p.kind === 'key' && p.role !== 'admin') throw new ApiError('forbidden', 'presence needs a client token or an admin key');
    const users = usersParam(req.query, 'users');
    const held = (u: string) => d.registry.waitersOf(p.tenantId, u).length > 0;
    const out = await presence(d.db, { tenantId: p.tenantId, userId: p.kind === 'token' ? p.userId : null }, users, d.config.deviceOnlineWindowS, held);
    res.setHeader('Cache-Control', 'no-store');
    res.json(out);
  });

  return r;
}
