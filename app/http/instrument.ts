// Per-request metrics: one counter increment when the response is done, labelled by the route
// pattern (never the raw path: ids would explode the label set). Also stamps the arrival time
// that publish latency is measured from.
import type { RequestHandler } from 'express';
import type { Metrics } from '../ops/metrics.ts';
import { routeOf } from './logging.ts';

export function requestMetrics(m: Metrics): RequestHandler {
  return (req, res, next) => {
    res.locals.t0 = performance.now();
    let done = false;
    const count = () => {
      if (done) return;
      done = true;
      m.httpRequests.inc({ method: req.method, route: routeOf(req), status: res.headersSent ? res.statusCode : 499 });
    };
    res.once('finish', count);
    res.once('close', count);
    next();
  };
}

/** performance.now() when the request arrived (publish latency runs from here to COMMIT). */
export function arrivedAt(locals: Record<string, unknown>): number {
  return typeof locals.t0 === 'number' ? locals.t0 : performance.now();
}
