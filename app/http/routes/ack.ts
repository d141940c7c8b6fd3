// POST /v1/ack: moves the device's cursor forward (never back).
import { Router } from 'express';
import type { Deps } from '../deps.ts';
import { clientToken } from '../auth.ts';
import { parseBody, AckBody } from '../validate.ts';
import { ack } from '../../services/inbox.ts';
import { API } from '../api.ts';

export function ackRoutes(d: Deps): Router {
  const r = Router();
  r.post(API.ack.path, async (req, res) => {
    const p = clientToken(req);
    const { seq } = parseBody(AckBody, req.body);
    const { acked, newly } = await ack(d.db, { tenantId: p.tenantId, userId: p.userId, deviceId: p.deviceId }, seq);
    if (newly > 0) d.ops.metrics?.acknowledged.inc({ via: 'ack' }, newly);
    res.json({ acked });
  });
  return r;
}
