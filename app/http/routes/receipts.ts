// GET /v1/messages/:id: the message and its receipts, for the sender or an admin key.
import { Router } from 'express';
import type { Deps } from '../deps.ts';
import { principal } from '../auth.ts';
import { intParam, stringParam, ID_RE, UUID_RE, LIMITS } from '../validate.ts';
import { ApiError } from '../../errors.ts';
import { messageReceipts } from '../../services/devices.ts';
import { fanoutState } from '../../services/fanout.ts';
import { API } from '../api.ts';

export function receiptRoutes(d: Deps): Router {
  const r = Router();
  r.get(API.receipts.path, async (req, res) => {
    const p = principal(req);
    const id = req.params.id;
    // A malformed id names no message: the same 404 as any other unknown one.
    if (!UUID_RE.test(id) || (p.kind === 'key' && p.role !== 'admin')) throw new ApiError('not_found', `no message ${id}`);
    const out = await messageReceipts(d.db, { tenantId: p.tenantId, userId: p.kind === 'token' ? p.userId : null }, id.toLowerCase(),
      stringParam(req.query, 'after', ID_RE, 'must be a user id') ?? null,
      intParam(req.query, 'limit', { min: 1, max: LIMITS.receiptsLimit }) ?? LIMITS.receiptsLimit);
    const f = await fanoutState(d.db, p.tenantId, id.toLowerCase());
    const fanout = f ? `,"fanout":${JSON.stringify({ state: f.state, total: f.total, done: f.done })}` : '';
    res.setHeader('Cache-Control', 'no-store');
    res.type('application/json').send(`{"message":${out.body},"recipients":${JSON.stringify(out.recipients)},"more":${out.more}${fanout}}`);
  });
  return r;
}
