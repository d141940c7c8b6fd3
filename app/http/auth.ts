// Authentication: `Authorization: Bearer <API key | client token>`, or `?access_token=` on GET
// (EventSource cannot set headers). Verified keys and tenant secrets are cached briefly so a hot
// path costs no query; a revoked key may therefore work for up to AUTH_CACHE_S more seconds.
import type { IncomingHttpHeaders } from 'node:http';
import type { Request, RequestHandler } from 'express';
import type { Pool } from '../../db/pool.ts';
import { ApiError } from '../errors.ts';
import { ID_RE } from './validate.ts';
import {
  looksLikeApiKey, verifyApiKey, verifyToken, findTenant,
  type Principal, type KeyPrincipal, type TokenPrincipal, type Role,
} from '../services/credentials.ts';
import type { TenantRow } from '../../db/queries/tenants.ts';

/**
 * Verified credentials and tenant rows, kept for `ttlMs`. A miss is loaded once: requests that
 * arrive while a load is in flight wait for it rather than start their own, and so go on in the
 * order they arrived (the callbacks of one promise run in the order they were attached). Without
 * it, publishes sent one after another with a key that had just left the cache were stored in
 * whichever order their key lookups came back.
 */
class TtlCache<V> {
  private map = new Map<string, { v: V; until: number }>();
  private loading = new Map<string, Promise<V>>();
  constructor(private readonly ttlMs: number, private readonly max = 10_000) {}
  get(k: string): V | undefined {
    const e = this.map.get(k);
    if (!e) return undefined;
    if (e.until < Date.now()) {
      this.map.delete(k);
      return undefined;
    }
    return e.v;
  }
  /** Loads `k` (or joins its load in flight) and keeps the value. */
  load(k: string, loader: () => Promise<V>): Promise<V> {
    let p = this.loading.get(k);
    if (!p) {
      p = loader().then((v) => {
        this.set(k, v);
        return v;
      }).finally(() => this.loading.delete(k));
      this.loading.set(k, p);
    }
    return p;
  }
  private set(k: string, v: V): void {
    if (this.ttlMs <= 0) return;
    if (this.map.size >= this.max) this.map.clear();
    this.map.set(k, { v, until: Date.now() + this.ttlMs });
  }
}

/** What authentication reads of a request (an express request or a hot-path Call's parts). */
export interface Credentials {
  method?: string | undefined;
  headers: IncomingHttpHeaders;
  query: Record<string, unknown>;
}

/** Anything that may carry an authenticated principal: an express request or a Call. */
export interface Authenticated {
  principal?: Principal | undefined;
}

export interface Authenticator {
  /** Resolves the request's principal (or throws 401). */
  authenticate(req: Credentials): Promise<Principal>;
  /** The tenant's row (cached): signing secret and limits. */
  tenant(tenantId: string): Promise<TenantRow | null>;
}

export function createAuthenticator(db: Pool, o: { cacheS: number; clockSkewS: number }): Authenticator {
  const keys = new TtlCache<KeyPrincipal | null>(o.cacheS * 1000);
  const tenants = new TtlCache<TenantRow | null>(o.cacheS * 1000);
  const tokens = new TtlCache<TokenPrincipal>(o.cacheS * 1000);

  async function tenant(tenantId: string): Promise<TenantRow | null> {
    const t = tenants.get(tenantId);
    return t !== undefined ? t : tenants.load(tenantId, () => findTenant(db, tenantId));
  }
  const secretOf = async (tenantId: string) => (await tenant(tenantId))?.signingSecret ?? null;

  function credential(req: Credentials): string {
    const h = req.headers.authorization;
    if (h !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
      if (!m) throw new ApiError('unauthorized', 'Authorization must be "Bearer <token or API key>"');
      return m[1]!;
    }
    const q = req.query.access_token;
    if (q !== undefined) {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new ApiError('unauthorized', 'access_token is accepted on GET requests only');
      if (typeof q !== 'string' || q === '') throw new ApiError('unauthorized', 'access_token must be given once');
      return q;
    }
    throw new ApiError('unauthorized', 'a credential is required: Authorization: Bearer <token or API key>');
  }

  return {
    tenant,
    async authenticate(req) {
      const cred = credential(req);
      if (looksLikeApiKey(cred)) {
        const hit = keys.get(cred);
        const p = hit !== undefined ? hit : await keys.load(cred, () => verifyApiKey(db, cred));
        if (!p) throw new ApiError('unauthorized', 'invalid API key');
        return p;
      }
      // A verified token is remembered (a client re-polls with the same one all day long): the
      // signature check is the costliest step of a poll. Its expiry is still checked on every use.
      const now = Date.now() / 1000;
      const known = tokens.get(cred);
      if (known && known.expiresAt + o.clockSkewS > now) return known;
      return tokens.load(cred, () => verifyToken(cred, secretOf, o.clockSkewS));
    },
  };
}

/** Middleware: sets req.principal. */
export function authenticate(auth: Authenticator): RequestHandler {
  return async (req, _res, next) => {
    req.principal = await auth.authenticate(req);
    next();
  };
}

export function principal(req: Authenticated): Principal {
  if (!req.principal) throw new ApiError('unauthorized', 'a credential is required');
  return req.principal;
}

/** A client token (the endpoints that act as one user's device). */
export function clientToken(req: Authenticated): TokenPrincipal {
  const p = principal(req);
  if (p.kind !== 'token') throw new ApiError('forbidden', 'this endpoint needs a client token (POST /v1/tokens), not an API key');
  return p;
}

export function apiKey(req: Authenticated, role: Role): KeyPrincipal {
  const p = principal(req);
  if (p.kind !== 'key') throw new ApiError('forbidden', 'this endpoint needs an API key');
  if (role === 'admin' && p.role !== 'admin') throw new ApiError('forbidden', 'this endpoint needs an admin API key');
  return p;
}

/**
 * The user an inbox-reading request is about: a client token's own user, or, with an admin key, the
 * `user` query parameter (operators look without minting a token). A publish key reads no inbox.
 */
export function inboxOwner(req: Request, what: string): { tenantId: string; userId: string } {
  const p = principal(req);
  if (p.kind === 'token') return { tenantId: p.tenantId, userId: p.userId };
  if (p.role !== 'admin') throw new ApiError('forbidden', `${what} needs a client token or an admin key`);
  const u = req.query.user;
  if (u === undefined) throw new ApiError('invalid_request', 'user: is required with an API key');
  if (typeof u !== 'string' || !ID_RE.test(u)) throw new ApiError('invalid_request', 'user: must be a user id');
  return { tenantId: p.tenantId, userId: u };
}
