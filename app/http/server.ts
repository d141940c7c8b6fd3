// The express app and its HTTP server. Routes are thin; the order of middleware is the policy:
// request id -> security headers -> CORS -> body parsing (per route size) -> auth -> routes ->
// 404 -> the one error mapper.
import http from 'node:http';
import crypto from 'node:crypto';
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
import { pollRoutes } from './routes/poll.ts';
import { streamRoutes } from './routes/stream.ts';
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

const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{1,64}$/;

function requestId(): RequestHandler {
  return (req, res, next) => {
    const given = req.headers['x-request-id'];
    req.id = typeof given === 'string' && REQUEST_ID_RE.test(given) ? given : crypto.randomUUID();
    res.setHeader('X-Request-Id', req.id);
    next();
  };
}

// CORS for an allow-list of origins only; credentials allowed, so never "*".
function cors(origins: readonly string[]): RequestHandler {
  const allowed = new Set(origins);
  return (req, res, next) => {
    const origin = req.headers.origin;
    if (origin && allowed.has(origin)) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Access-Control-Expose-Headers', 'X-Request-Id, Retry-After');
      res.append('Vary', 'Origin');
      if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
        res.setHeader('Access-Control-Allow-Methods', 'GET, POST, PUT, DELETE, OPTIONS');
        res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, Idempotency-Key, Last-Event-ID, X-Request-Id');
        res.setHeader('Access-Control-Max-Age', '600');
        res.status(204).end();
        return;
      }
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
  app.use(helmet({
    // The demo and console pages use only same-origin scripts and styles.
    // No upgrade-insecure-requests: behind plain HTTP (an intranet, a TLS-terminating proxy on
    // another host) it would send the pages' scripts and XHRs to an https origin that is not there.
    contentSecurityPolicy: { directives: { defaultSrc: ["'self'"], connectSrc: ["'self'"], imgSrc: ["'self'", 'data:'], upgradeInsecureRequests: null } },
    crossOriginResourcePolicy: { policy: d.config.corsOrigins.length ? 'cross-origin' : 'same-origin' },
  }));
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
  app.use(pollRoutes(d));
  app.use(streamRoutes(d));
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
export function createHttpServer(app: express.Express, t: HttpLimits): http.Server {
  const server = http.createServer({
    maxHeaderSize: t.maxHeaderBytes,
    headersTimeout: t.headersTimeoutMs,
    requestTimeout: t.requestTimeoutMs,
    keepAliveTimeout: t.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.min(1000, Math.max(100, Math.floor(t.headersTimeoutMs / 4))),
  }, app);
  server.timeout = 0;
  return server;
}
