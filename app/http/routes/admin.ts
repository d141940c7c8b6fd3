// Operations (admin API key): job statistics and dead letters. A dead letter is a range of a
// device's inbox that was never acknowledged after every re-offer (see jobs/compensation.ts).
import { Router, type Request } from 'express';
import type { Deps } from '../deps.ts';
import { apiKey } from '../auth.ts';
import { intParam, stringParam } from '../validate.ts';
import { listDeadLetters, retryDeadLetter, discardDeadLetter, stats, type DeadLetter } from '../../services/admin.ts';
import { API } from '../api.ts';

const STATES = /^(open|retried|discarded|acked|all)$/;

function letterJson(l: DeadLetter) {
  return {
    id: String(l.id), user: l.userId, device: l.deviceId, fromSeq: l.fromSeq, toSeq: l.toSeq, attempts: l.attempts,
    reason: l.reason, createdAt: l.createdAt.toISOString(), state: l.state, resolvedAt: l.resolvedAt?.toISOString() ?? null,
  };
}

const letterId = (req: Request) => intParam({ id: req.params.id }, 'id', { min: 1, max: Number.MAX_SAFE_INTEGER })!;

export function adminRoutes(d: Deps): Router {
  const r = Router();

  r.get(API.stats.path, async (req, res) => {
    const k = apiKey(req, 'admin');
    const s = await stats(d.db, k.tenantId);
    res.set('Cache-Control', 'no-store').json({
      jobs: s.jobs.map((j) => ({ ...j, lastStartedAt: j.lastStartedAt.toISOString() })),
      recentRuns: s.recentRuns.map((x) => ({
        id: String(x.id), job: x.job, startedAt: x.startedAt.toISOString(), durationMs: x.durationMs, rows: x.rows, detail: x.detail, error: x.error,
      })),
      deadLetters: { open: s.openDeadLetters },
    });
  });

  // ?state=open (default) | retried | discarded | acked | all; ?limit=1..1000 (default 100).
  r.get(API.deadLetters.path, async (req, res) => {
    const k = apiKey(req, 'admin');
    const state = stringParam(req.query, 'state', STATES, 'must be one of open, retried, discarded, acked, all') ?? 'open';
    const limit = intParam(req.query, 'limit', { min: 1, max: 1000 }) ?? 100;
    const rows = await listDeadLetters(d.db, k.tenantId, state === 'all' ? null : (state as DeadLetter['state']), limit);
    res.set('Cache-Control', 'no-store').json({ deadLetters: rows.map(letterJson) });
  });

  r.post(API.deadLetterRetry.path, async (req, res) => {
    const k = apiKey(req, 'admin');
    res.json({ deadLetter: letterJson(await retryDeadLetter(d.db, k.tenantId, letterId(req))) });
  });

  r.post(API.deadLetterDiscard.path, async (req, res) => {
    const k = apiKey(req, 'admin');
    res.json({ deadLetter: letterJson(await discardDeadLetter(d.db, k.tenantId, letterId(req))) });
  });

  return r;
}
