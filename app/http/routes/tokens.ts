// POST /v1/tokens: an API key mints a client token for one user (and device).
import { Router } from 'express';
import type { Deps } from '../deps.ts';
import { apiKey } from '../auth.ts';
import { parseBody, TokenBody } from '../validate.ts';
import { mintToken } from '../../services/credentials.ts';
import { ApiError } from '../../errors.ts';
import { API } from '../api.ts';

export function tokenRoutes(d: Deps): Router {
  const r = Router();
  r.post(API.tokens.path, async (req, res) => {
    const key = apiKey(req, 'publish');
    const body = parseBody(TokenBody, req.body);
    const tenant = await d.auth.tenant(key.tenantId);
    if (!tenant) throw new ApiError('unauthorized', 'the tenant of this key no longer exists');
    const ttlS = Math.min(body.ttlSeconds ?? 3600, d.config.tokenTtlMaxS);
    const scope = body.scope && body.scope !== 'subscribe' ? 'subscribe publish' : 'subscribe';
    const t = await mintToken({
      tenantId: tenant.id, signingSecret: tenant.signingSecret, userId: body.user, deviceId: body.device ?? null, scope, ttlS,
    });
    res.status(201).json({ token: t.token, expiresAt: t.expiresAt.toISOString(), user: body.user, device: body.device ?? 'default', scope });
  });
  return r;
}
