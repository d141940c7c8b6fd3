// Request logs: one JSON line per request with request id, tenant, user, device, route, status and
// duration — by pino-http for express routes, by logCall() for the hot path, in the same shape. A
// long poll or stream is one line too, written when it ends, saying how it ended (message, timeout,
// superseded, closed, lifetime, shutdown) and how many entries it wrote (`Call.held`).
// Credentials never reach a log line: the request serializer keeps only
// method, sanitised URL and user agent, `access_token` and anything shaped like a key or a token
// is masked in URLs, and pino's redaction covers header paths should anything log raw headers.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, RequestHandler } from 'express';
import { pinoHttp } from 'pino-http';
import type pino from 'pino';
import type { Authenticated } from './auth.ts';
import type { Call } from './call.ts';

export const REDACT_PATHS = [
  'req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'authorization',
  '*.authorization', '*.access_token', '*.token', '*.apiKey', '*.adminKey',
];

// A query parameter carrying a credential, an API key anywhere, a JWT anywhere.
const SECRET_PARAM_RE = /([?&](?:access_token|token|key|api_key)=)[^&#]*/gi;
const API_KEY_RE = /msk_[A-Za-z0-9_-]+/g;
const JWT_RE = /eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*/g;

export function sanitizeUrl(url: string): string {
  return url.replace(SECRET_PARAM_RE, '$1[redacted]').replace(API_KEY_RE, 'msk_[redacted]').replace(JWT_RE, '[redacted-jwt]');
}

/** The route pattern that answered (low cardinality: ids stay out), or "unmatched". */
export function routeOf(req: Request): string {
  const p = req.route?.path;
  return typeof p === 'string' ? req.baseUrl + p : 'unmatched';
}

/** tenant/user/device of the authenticated caller, for log lines. */
export function who(req: Authenticated): Record<string, string> {
  const p = req.principal;
  if (!p) return {};
  if (p.kind === 'token') return { tenant: p.tenantId, user: p.userId, device: p.deviceId };
  return { tenant: p.tenantId, keyId: p.keyId };
}

export interface Held {
  kind: 'poll' | 'stream';
  /** How it ended; unset while open (a log line written then means the client went away). */
  end?: string;
  delivered: number;
}

const serializeReq = (r: IncomingMessage & { originalUrl?: string }) => ({ method: r.method, url: sanitizeUrl(r.originalUrl ?? r.url ?? ''), ua: r.headers['user-agent'] });

/** The hot path's line for a finished call, shaped like pino-http's. */
export function logCall(logger: pino.Logger, call: Call): void {
  const { req, res } = call;
  const h = call.held;
  const status = res.statusCode;
  const level = status >= 500 ? 'error' : 'info';
  if (!logger.isLevelEnabled(level)) return; // the line is not built for nothing
  const line = {
    reqId: call.id, req: serializeReq(req), res: { status }, responseTime: Math.round(performance.now() - call.t0),
    ...who(call), route: call.route, ...(h && { end: h.end ?? 'closed', delivered: h.delivered }),
  };
  const msg = h ? `${h.kind} ended: ${h.end ?? 'closed'}` : !req.readableAborted && res.writableEnded ? 'request completed' : 'request aborted';
  logger[level](line, msg);
}

export function httpLogger(logger: pino.Logger): RequestHandler {
  const mw = pinoHttp({
    logger,
    genReqId: (req) => (req as Request).id,
    quietReqLogger: true,
    wrapSerializers: false,
    serializers: {
      req: serializeReq,
      res: (r: ServerResponse) => ({ status: r.statusCode }),
    },
    customProps: (req, res) => {
      // Called at the start too, when nothing is known yet: only the finished line gets the fields.
      if (!res.headersSent && !res.writableEnded && !res.destroyed) return {};
      const r = req as Request;
      return { ...who(r), route: routeOf(r) };
    },
    customSuccessMessage: (req, res) => {
      return !req.readableAborted && res.writableEnded ? 'request completed' : 'request aborted';
    },
    customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'),
  });
  return mw as unknown as RequestHandler;
}
