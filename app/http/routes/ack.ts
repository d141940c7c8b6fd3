// POST /v1/ack: moves the device's cursor forward (never back).
import { Router } from 'express';
import type { Deps } from '../deps.ts';
import { clientToken } from '../auth.ts';
import { parseBody, AckBody } from '../validate.ts';
import { ack } from '../../services/inbox.ts';

export function ackRoutes(d: Deps): Router {
  const r = Router();
  r.post('/v1/ack', async (req, res) => {
    const p = clientToken(req);
    const { seq } = parseBody(AckBody, req.body);
    const acked = await ack(d.db, { tenantId: p.tenantId, userId: p.userId, deviceId: p.deviceId }, seq);
    res.json({ acked });
  });
  return r;
}
