// Liveness and readiness probes (no credential: they reveal nothing but health).
import { Router } from 'express';
import type { Deps } from '../deps.ts';
import { API } from '../api.ts';

export function healthRoutes(d: Deps): Router {
  const r = Router();
  r.get(API.healthz.path, (_req, res) => {
    res.json({ ok: true });
  });
  r.get(API.readyz.path, async (req, res) => {
    const checks = await d.readiness.check();
    const failed = Object.entries(checks).filter(([, ok]) => !ok).map(([name]) => name);
    res.setHeader('Cache-Control', 'no-store');
    if (failed.length === 0) {
      res.json({ ok: true, checks });
      return;
    }
    res.setHeader('Retry-After', '2');
    res.status(503).json({ error: 'unavailable', message: `not ready: ${failed.join(', ')}`, requestId: req.id, ok: false, checks });
  });
  return r;
}
