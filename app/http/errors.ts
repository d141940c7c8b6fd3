// The one error middleware: ApiError -> its status and body; body-parser failures -> invalid_json /
// payload_too_large; database connection failures -> 503 + Retry-After; anything else -> 500
// (logged, never leaked). Every body is {"error","message","requestId", …extra}.
import type { ErrorRequestHandler, Request, Response } from 'express';
import { ApiError, ERRORS, type ErrorCode } from '../errors.ts';
import { isConnectionError } from '../../db/pool.ts';
import { errorBody, errorHeaders } from './edge.ts';

export interface Logger {
  error(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export function sendError(req: Request, res: Response, err: ApiError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const h = errorHeaders(err);
  for (let i = 0; i < h.length; i += 2) res.setHeader(h[i]!, h[i + 1]!);
  res.status(err.status).type('application/json').send(errorBody(err, req.id));
}

export function toApiError(err: unknown): ApiError | null {
  if (err instanceof ApiError) return err;
  const e = err as { type?: string; status?: number; expose?: boolean; message?: string } | null;
  if (e?.type === 'entity.parse.failed') return new ApiError('invalid_json', 'the body is not valid JSON');
  if (e?.type === 'entity.too.large') return new ApiError('payload_too_large', 'the request body is too large');
  if (e?.type === 'encoding.unsupported' || e?.type === 'charset.unsupported') return new ApiError('unsupported_media_type', 'the body must be UTF-8 JSON');
  if (e?.type === 'request.aborted') return new ApiError('invalid_request', 'the request was aborted');
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500 && e.expose) {
    const code = (Object.keys(ERRORS) as ErrorCode[]).find((c) => ERRORS[c].status === e.status) ?? 'invalid_request';
    return new ApiError(code, e.message ?? 'bad request');
  }
  if (isConnectionError(err)) return new ApiError('unavailable', 'the database is unavailable; retry shortly', {}, 2);
  const pgCode = (err as { code?: string } | null)?.code;
  if (pgCode === '57014' || pgCode === '55P03') return new ApiError('unavailable', 'the database is busy; retry shortly', {}, 1);
  return null;
}

/** Any thrown value as the error the client sees; the unexpected ones are logged, never leaked. */
export function failure(log: Logger, err: unknown, reqId: string, route: string | undefined): ApiError {
  const api = toApiError(err);
  if (api) {
    if (api.status >= 500) log.warn({ err: String((err as Error)?.message ?? err), reqId }, 'request failed: database');
    return api;
  }
  log.error({ err, reqId, route }, 'unhandled error');
  return new ApiError('internal', 'internal error');
}

export function errorMiddleware(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => sendError(req, res, failure(log, err, req.id, req.route?.path));
}
