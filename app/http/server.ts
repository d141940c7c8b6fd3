// The express app and its HTTP server. Routes are thin; the order of middleware is the policy:
// request id -> security headers -> CORS -> body parsing (per route size) -> auth -> routes ->
// 404 -> the one error mapper. Polls, streams and single publishes are served before express, on
// the hot path (hot.ts), with the same policy.
import http from 'node:http';
import express, { type RequestHandler } from 'express';
import helmet from 'helmet';
import './types.ts';
import type { Deps } from './deps.ts';
import type { HttpLimits } from '../config.ts';
import { authenticate } from './auth.ts';
import { errorMiddleware, sendError } from './errors.ts';
import { ApiError } from '../errors.ts';
import { tokenRoutes } from './routes/tokens.ts';
import { messageRoutes } from './routes/messages.ts';
import { ackRoutes } from './routes/ack.ts';
import { healthRoutes } from './routes/health.ts';
import { adminRoutes } from './routes/admin.ts';
import { groupRoutes } from './routes/groups.ts';
import { deviceRoutes } from './routes/devices.ts';
import { receiptRoutes } from './routes/receipts.ts';
import { opsRoutes } from './routes/ops.ts';
import { signalRoutes } from './routes/signals.ts';
import { httpLogger } from './logging.ts';
import { requestMetrics } from './instrument.ts';
import { pageRoutes } from './routes/pages.ts';
import { requestIdOf, corsFor, helmetOptions } from './edge.ts';
import { withHotPath } from './hot.ts';

function requestId(): RequestHandler {
  return (req, res, next) => {
    req.id = requestIdOf(req);
    res.setHeader('X-Request-Id', req.id);
    next();
  };
}

// CORS for an allow-list of origins only (edge.ts); a preflight is answered here.
function cors(origins: readonly string[]): RequestHandler {
  const corsOf = corsFor(origins);
  return (req, res, next) => {
    const c = corsOf(req);
    for (let i = 0; i < c.headers.length; i += 2) {
      if (c.headers[i] === 'Vary') res.append('Vary', c.headers[i + 1]!);
      else res.setHeader(c.headers[i]!, c.headers[i + 1]!);
    }
    if (c.preflight) {
      res.status(204).end();
      return;
    }
    next();
  };
}

export function createApp(d: Deps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false); // bodies are never cacheable here; hashing them would only cost CPU
  app.set('query parser', 'simple');
  app.use(requestId());
  if (d.httpLog) app.use(httpLogger(d.httpLog));
  if (d.ops.metrics) app.use(requestMetrics(d.ops.metrics));
  app.use(helmet(helmetOptions(d.config)));
  app.use(cors(d.config.corsOrigins));

  app.use(healthRoutes(d));

  const json = (limit: string) => express.json({ limit, strict: true, type: ['application/json', 'application/*+json'] });
  app.use('/v1/messages/batch', json('8mb'));
  // Group member lists: up to 100,000 ids of up to 128 characters.
  app.use('/v1/groups', json('16mb'));
  app.use('/v1', (req, res, next) => (req.path === '/messages/batch' || req.path.startsWith('/groups/') ? next() : json('256kb')(req, res, next)));
  app.use('/v1', authenticate(d.auth));
  app.use(tokenRoutes(d));
  app.use(messageRoutes(d));
  app.use(ackRoutes(d));
  app.use(adminRoutes(d));
  app.use(groupRoutes(d));
  app.use(deviceRoutes(d));
  app.use(receiptRoutes(d));
  app.use(opsRoutes(d));
  // After the API: the static handler stats the file system for every path it is asked about.
  app.use(pageRoutes());
  app.use(signalRoutes(d));

  app.use((req, res) => sendError(req, res, new ApiError('not_found', `no route for ${req.method} ${req.path}`)));
  app.use(errorMiddleware(d.log));
  return app;
}

/**
 * Node's defaults would cut or keep the wrong things: held polls and streams must live as long as
 * they need (no socket inactivity timeout; requestTimeout ends once a request has been read, which
 * for a GET is at once), while slow heads (slowloris), slow bodies and idle keep-alive sockets are
 * dropped. Node enforces the head and request timeouts on a periodic check (30 s by default), which
 * would let a slowloris hold a socket far longer than the timeout: the check runs at least every
 * second here.
 */
/** The whole HTTP surface: the hot path, then the express app. */
export function createHandler(d: Deps): http.RequestListener {
  return withHotPath(d, createApp(d));
}

export function createHttpServer(handler: http.RequestListener, t: HttpLimits): http.Server {
  const server = http.createServer({
    maxHeaderSize: t.maxHeaderBytes,
    headersTimeout: t.headersTimeoutMs,
    requestTimeout: t.requestTimeoutMs,
    keepAliveTimeout: t.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.min(1000, Math.max(100, Math.floor(t.headersTimeoutMs / 4))),
  }, handler);
  server.timeout = 0;
  return server;
}
