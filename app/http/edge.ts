// What every response shares, without a framework: request ids, CORS, the security headers and the
// error body. Both the express app and the hot path (hot.ts) use these, so a poll answered on one
// and a group answered on the other carry the same headers.
import crypto from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet, { type HelmetOptions } from 'helmet';
import type { Config } from '../config.ts';
import type { ApiError } from '../errors.ts';

const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{1,64}$/;

/** The client's X-Request-Id when sane, else a fresh one. */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID_RE.test(given) ? given : crypto.randomUUID();
}

export function helmetOptions(config: Pick<Config, 'corsOrigins'>): HelmetOptions {
  return {
    // The demo and console pages use only same-origin scripts and styles.
    // No upgrade-insecure-requests: behind plain HTTP (an intranet, a TLS-terminating proxy on
    // another host) it would send the pages' scripts and XHRs to an https origin that is not there.
    contentSecurityPolicy: { directives: { defaultSrc: ["'self'"], connectSrc: ["'self'"], imgSrc: ["'self'", 'data:'], upgradeInsecureRequests: null } },
    crossOriginResourcePolicy: { policy: config.corsOrigins.length ? 'cross-origin' : 'same-origin' },
  };
}

/**
 * helmet's headers as a flat [name, value, …] list, computed once. They do not depend on the
 * request, so the hot path writes them with the response head instead of running helmet per
 * request (and a held poll does not carry them in memory while it waits).
 */
export function securityHeaders(config: Pick<Config, 'corsOrigins'>): readonly string[] {
  const out: string[] = [];
  const res = {
    setHeader(name: string, value: string | number | readonly string[]) { out.push(name, String(value)); },
    removeHeader() { /* nothing set yet */ },
  };
  let called = false;
  helmet(helmetOptions(config))({} as IncomingMessage, res as unknown as ServerResponse, () => { called = true; });
  if (!called) throw new Error('helmet did not finish synchronously');
  return out;
}

const PREFLIGHT_HEADERS = [
  'Access-Control-Allow-Methods', 'GET, POST, PUT, DELETE, OPTIONS',
  'Access-Control-Allow-Headers', 'Authorization, Content-Type, Idempotency-Key, Last-Event-ID, X-Request-Id',
  'Access-Control-Max-Age', '600',
];

/**
 * CORS for an allow-list of origins only; credentials allowed, so never "*". Returns the headers to
 * add (empty for a request from elsewhere) and whether the request is a preflight to answer 204.
 */
export function corsFor(origins: readonly string[]): (req: IncomingMessage) => { headers: string[]; preflight: boolean } {
  const allowed = new Set(origins);
  const none = { headers: [] as string[], preflight: false };
  return (req) => {
    const origin = req.headers.origin;
    if (!origin || !allowed.has(origin)) return none;
    const headers = [
      'Access-Control-Allow-Origin', origin,
      'Access-Control-Allow-Credentials', 'true',
      'Access-Control-Expose-Headers', 'X-Request-Id, Retry-After',
      'Vary', 'Origin',
    ];
    const preflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
    if (preflight) headers.push(...PREFLIGHT_HEADERS);
    return { headers, preflight };
  };
}

/** The contract's error body: {"error","message","requestId", …extra}. */
export function errorBody(err: ApiError, requestId: string): string {
  return JSON.stringify({ error: err.code, message: err.message, requestId, ...err.extra });
}

/** Headers an error response adds to the shared ones. */
export function errorHeaders(err: ApiError): string[] {
  const h = ['Cache-Control', 'no-store'];
  if (err.retryAfterS !== undefined) h.push('Retry-After', String(Math.max(1, Math.ceil(err.retryAfterS))));
  return h;
}
