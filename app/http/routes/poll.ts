// GET /v1/poll: long polling. Answers at once when entries after `since` exist, else holds the
// request in the waiter registry until one arrives, the timeout passes, or a newer poll of the
// same device supersedes it.
import { Router } from 'express';
import type { Deps } from '../deps.ts';
import { clientToken } from '../auth.ts';
import { intParam, boolParam, LIMITS } from '../validate.ts';
import { startPoll } from '../../services/inbox.ts';
import { PollSession, type PollOutcome } from '../../delivery/polls.ts';

export function pollRoutes(d: Deps): Router {
  const r = Router();
  r.get('/v1/poll', async (req, res) => {
    const p = clientToken(req);
    const q = req.query;
    const since = intParam(q, 'since', { min: 0, max: Number.MAX_SAFE_INTEGER });
    const timeoutS = intParam(q, 'timeout', { min: 0, max: d.config.pollTimeoutMaxS, clamp: true }) ?? d.config.pollTimeoutDefaultS;
    const limit = intParam(q, 'limit', { min: 1, max: LIMITS.pollLimit }) ?? 100;
    const ack = boolParam(q, 'ack') ?? true;
    const device = { tenantId: p.tenantId, userId: p.userId, deviceId: p.deviceId };
    const start = await startPoll(d.db, device, since ?? null, ack);

    const answer = (o: PollOutcome) => {
      if (res.writableEnded || res.destroyed) return;
      const next = o.entries.length ? o.entries[o.entries.length - 1]!.seq : start.since;
      let body = `{"messages":[${o.entries.map((e) => e.json).join(',')}],"next":${next},"more":${o.more},"read":${start.read}`;
      if (o.end === 'superseded') body += ',"superseded":true';
      body += '}';
      res.status(200);
      res.setHeader('Content-Type', 'application/json; charset=utf-8');
      res.setHeader('Cache-Control', 'no-store');
      // Explicit: Node would frame an HTTP/1.0 answer by closing the connection instead.
      res.setHeader('Content-Length', Buffer.byteLength(body));
      res.end(body);
    };
    const session = new PollSession(d.registry, d.reader, p.tenantId, p.userId, p.deviceId, start.since, limit, Date.now() + timeoutS * 1000, answer);
    res.on('close', () => session.abandon());
    await session.start();
    if (timeoutS === 0) session.timeout();
  });
  return r;
}
