// The one error middleware: ApiError -> its status and body; body-parser failures -> invalid_json /
// payload_too_large; database connection failures -> 503 + Retry-After; anything else -> 500
// (logged, never leaked). Every body is {"error","message","requestId", …extra}.
import type { ErrorRequestHandler, Request, Response } from 'express';
import { ApiError, ERRORS, type ErrorCode } from '../errors.ts';
import { isConnectionError } from '../../db/pool.ts';

export interface Logger {
  error(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export function sendError(req: Request, res: Response, err: ApiError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (err.retryAfterS !== undefined) res.setHeader('Retry-After', String(Math.max(1, Math.ceil(err.retryAfterS))));
  res.setHeader('Cache-Control', 'no-store');
  res.status(err.status).json({ error: err.code, message: err.message, requestId: req.id, ...err.extra });
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

export function errorMiddleware(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const api = toApiError(err);
    if (api) {
      if (api.status >= 500) log.warn({ err: String((err as Error)?.message ?? err), reqId: req.id }, 'request failed: database');
      return sendError(req, res, api);
    }
    log.error({ err, reqId: req.id, route: req.route?.path }, 'unhandled error');
    sendError(req, res, new ApiError('internal', 'internal error'));
  };
}
