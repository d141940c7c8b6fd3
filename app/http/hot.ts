// The hot path: long polls, streams and single publishes are served straight on node:http, beside
// the express app that serves everything else. These are the requests a busy server sees thousands
// of times a second or holds by the thousand, and express's per-request machinery (router closures,
// query and params objects, helmet's headers set before a poll is held, a child logger per request)
// cost several times the CPU and heap of the work itself (profiles and heap snapshots, README
// "Performance"). The policy is the same as the express app's (server.ts): request id, CORS,
// security headers, body limits, authentication, one log line and one metric per request, errors
// in the contract's shape.
import type { IncomingMessage, ServerResponse, RequestListener } from 'node:http';
import querystring from 'node:querystring';
import express from 'express';
import type { Deps } from './deps.ts';
import type { Call } from './call.ts';
import { respond, JSON_TYPE } from './call.ts';
import { requestIdOf, corsFor, securityHeaders, errorBody, errorHeaders } from './edge.ts';
import { failure } from './errors.ts';
import { logCall } from './logging.ts';
import { API } from './api.ts';
import { servePoll } from './routes/poll.ts';
import { serveStream } from './routes/stream.ts';
import { publishHandler } from './routes/messages.ts';

interface HotRoute {
  method: string;
  path: string;
  /** Reads a JSON body (up to the limit) before the handler runs. */
  body?: string;
  handler: (d: Deps) => (call: Call) => Promise<void>;
}

const ROUTES: readonly HotRoute[] = [
  { method: 'GET', path: API.poll.path, handler: (d) => (c) => servePoll(d, c) },
  { method: 'GET', path: API.stream.path, handler: (d) => (c) => serveStream(d, c) },
  { method: 'POST', path: API.publish.path, body: '256kb', handler: publishHandler },
];

/** The routes served on the hot path ([method, path]), for route sweeps and the OpenAPI check. */
export const HOT_ROUTES: readonly (readonly [string, string])[] = ROUTES.map((r) => [r.method, r.path] as const);

/** body-parser's JSON reader (same limits, media types and errors as the express routes). */
function jsonBody(limit: string): (req: IncomingMessage, res: ServerResponse) => Promise<unknown> {
  const parse = express.json({ limit, strict: true, type: ['application/json', 'application/*+json'] });
  return (req, res) => new Promise((resolve, reject) => {
    parse(req as express.Request, res as express.Response, (err?: unknown) => (err ? reject(err) : resolve((req as { body?: unknown }).body)));
  });
}

/** A request listener: the hot routes here, everything else to `app`. */
export function withHotPath(d: Deps, app: RequestListener): RequestListener {
  const security = securityHeaders(d.config);
  const cors = corsFor(d.config.corsOrigins);
  const table = new Map<string, { path: string; handle: (call: Call) => Promise<void>; body: ((req: IncomingMessage, res: ServerResponse) => Promise<unknown>) | null }>();
  for (const r of ROUTES) table.set(`${r.method} ${r.path}`, { path: r.path, handle: r.handler(d), body: r.body ? jsonBody(r.body) : null });

  const finished = (call: Call) => {
    const m = d.ops.metrics;
    if (m) m.httpRequests.inc({ method: call.req.method ?? '', route: call.route, status: call.res.headersSent ? call.res.statusCode : 499 });
    if (d.httpLog) logCall(d.httpLog, call);
  };

  const fail = (call: Call, err: unknown) => {
    const api = failure(d.log, err, call.id, call.route);
    if (call.res.headersSent) {
      call.res.destroy();
      return;
    }
    respond(call, api.status, JSON_TYPE, errorBody(api, call.id), errorHeaders(api));
  };

  return (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    let path = q < 0 ? url : url.slice(0, q);
    if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
    const hot = table.get(`${req.method} ${path}`);
    if (!hot) {
      app(req, res);
      return;
    }
    const c = cors(req);
    const id = requestIdOf(req);
    const call: Call = {
      req, res, id, route: hot.path, t0: performance.now(),
      query: q < 0 ? {} : querystring.parse(url.slice(q + 1)),
      cors: c.headers, security,
    };
    // 'close' comes once: `on` spares the wrapper `once` keeps for as long as a poll or stream is held.
    res.on('close', () => finished(call));
    void (async () => {
      try {
        if (hot.body) call.body = await hot.body(req, res);
        call.principal = await d.auth.authenticate({ method: req.method, headers: req.headers, query: call.query });
        await hot.handle(call);
      } catch (err) {
        fail(call, err);
      }
    })();
  };
}
