// Tenants, API keys and client tokens: creating them and checking them.
// API key: `msk_<id>_<secret>`; only SHA-256(secret) is stored and compared in constant time.
// Client token: JWT HS256 signed with the tenant's secret; alg pinned, exp required, skew bounded.
import crypto from 'node:crypto';
import { SignJWT, jwtVerify, decodeJwt } from 'jose';
import type { Queryable } from '../../db/pool.ts';
import * as tenants from '../../db/queries/tenants.ts';
import type { Role } from '../../db/queries/tenants.ts';
import { ApiError } from '../errors.ts';

export type { Role };
export const TENANT_ID_RE = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export interface KeyPrincipal {
  kind: 'key';
  tenantId: string;
  role: Role;
  keyId: string;
}

export interface TokenPrincipal {
  kind: 'token';
  tenantId: string;
  userId: string;
  deviceId: string;
  canPublish: boolean;
  expiresAt: number;
}

export type Principal = KeyPrincipal | TokenPrincipal;

const sha256 = (s: string) => crypto.createHash('sha256').update(s).digest();

export async function createTenant(db: Queryable, id: string, maxTtlS: number): Promise<{ tenantId: string; signingSecret: string; adminKey: string } | null> {
  if (!TENANT_ID_RE.test(id)) throw new ApiError('invalid_request', 'tenant name must match [a-z0-9][a-z0-9_-]{0,62}');
  const signingSecret = crypto.randomBytes(32).toString('base64url');
  if (!(await tenants.insertTenant(db, { id, signingSecret, maxTtlS }))) return null;
  const adminKey = await createApiKey(db, id, 'admin', 'created with the tenant');
  return { tenantId: id, signingSecret, adminKey };
}

export async function createApiKey(db: Queryable, tenantId: string, role: Role, label: string | null): Promise<string> {
  const id = crypto.randomBytes(6).toString('hex');
  const secret = crypto.randomBytes(24).toString('base64url');
  await tenants.insertApiKey(db, { id, tenantId, role, secretHash: sha256(secret), label });
  return `msk_${id}_${secret}`;
}

const KEY_RE = /^msk_([0-9a-f]{12})_([A-Za-z0-9_-]{32})$/;

export const looksLikeApiKey = (s: string) => s.startsWith('msk_');

/** The key's principal, or null when unknown, revoked or wrong. */
export async function verifyApiKey(db: Queryable, key: string): Promise<KeyPrincipal | null> {
  const m = KEY_RE.exec(key);
  if (!m) return null;
  const row = await tenants.findApiKey(db, m[1]!);
  if (!row) return null;
  const given = sha256(m[2]!);
  if (!crypto.timingSafeEqual(given, row.secretHash)) return null;
  return { kind: 'key', tenantId: row.tenantId, role: row.role, keyId: row.id };
}

export interface TokenRequest {
  tenantId: string;
  signingSecret: string;
  userId: string;
  deviceId: string | null;
  scope: 'subscribe' | 'subscribe publish';
  ttlS: number;
}

export async function mintToken(t: TokenRequest): Promise<{ token: string; expiresAt: Date }> {
  const exp = Math.floor(Date.now() / 1000) + t.ttlS;
  const claims: Record<string, unknown> = { tid: t.tenantId, scope: t.scope };
  if (t.deviceId) claims.did = t.deviceId;
  const token = await new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(t.userId)
    .setIssuedAt()
    .setExpirationTime(exp)
    .sign(new TextEncoder().encode(t.signingSecret));
  return { token, expiresAt: new Date(exp * 1000) };
}

const ID_RE = /^[A-Za-z0-9._:@-]{1,128}$/;

/**
 * Verifies a client token. The tenant is read from the unverified `tid` only to pick the key; the
 * signature then proves it. Any failure is a plain 401: the reason is not a client's business.
 */
export async function verifyToken(
  token: string, secretOf: (tenantId: string) => Promise<string | null>, clockSkewS: number,
): Promise<TokenPrincipal> {
  const fail = () => new ApiError('unauthorized', 'invalid or expired token');
  let tid: unknown;
  try {
    tid = decodeJwt(token).tid;
  } catch {
    throw fail();
  }
  if (typeof tid !== 'string' || !TENANT_ID_RE.test(tid)) throw fail();
  const secret = await secretOf(tid);
  if (!secret) throw fail();
  try {
    const { payload } = await jwtVerify(token, new TextEncoder().encode(secret), {
      algorithms: ['HS256'], requiredClaims: ['exp', 'sub'], clockTolerance: clockSkewS,
    });
    const sub = payload.sub;
    const did = payload.did ?? 'default';
    const scope = typeof payload.scope === 'string' ? payload.scope.split(' ') : [];
    if (typeof sub !== 'string' || !ID_RE.test(sub) || typeof did !== 'string' || !ID_RE.test(did)) throw fail();
    if (!scope.includes('subscribe') && !scope.includes('publish')) throw fail();
    return { kind: 'token', tenantId: tid, userId: sub, deviceId: did, canPublish: scope.includes('publish'), expiresAt: payload.exp! };
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw fail();
  }
}

export const findTenant = tenants.findTenant;
