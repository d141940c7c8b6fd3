// One request on the hot path (hot.ts): the raw node:http pair plus what the edge learned about it.
// The poll, stream and publish handlers take a Call instead of express's request and response:
// they are the requests a busy server sees thousands of times a second, or holds by the thousand.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ParsedUrlQuery } from 'node:querystring';
import type { Principal } from '../services/credentials.ts';
import type { Held } from './logging.ts';

export interface Call {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** Request id (echoed as X-Request-Id). */
  readonly id: string;
  /** The route pattern, for logs and metrics. */
  readonly route: string;
  readonly query: ParsedUrlQuery;
  /** performance.now() at arrival: publish latency is measured from here. */
  readonly t0: number;
  /** CORS headers for this request's origin (usually none). */
  readonly cors: readonly string[];
  /** helmet's headers, computed once for the server (edge.ts). */
  readonly security: readonly string[];
  principal?: Principal;
  /** The parsed JSON body, on routes that take one (undefined when none was sent). */
  body?: unknown;
  /** Set by a held poll or stream: how it ended, for its log line. */
  held?: Held;
}

/**
 * The response head every answer of this call carries (request id, CORS, security) plus `extra`,
 * as a flat list for writeHead. Built only when answering: a held poll keeps none of it.
 */
export function head(call: Call, extra: readonly string[]): string[] {
  return ['X-Request-Id', call.id, ...call.cors, ...call.security, ...extra];
}

/** Writes a whole response: the shared head, then `extra`, then the body. */
export function respond(call: Call, status: number, contentType: string, body: string | Buffer, extra: readonly string[] = []): void {
  const { res } = call;
  if (res.destroyed || res.writableEnded) return;
  res.writeHead(status, [
    ...head(call, extra),
    'Content-Type', contentType,
    // Explicit: Node would frame an HTTP/1.0 answer by closing the connection instead.
    'Content-Length', String(Buffer.byteLength(body)),
  ]);
  res.end(body);
}

export const JSON_TYPE = 'application/json; charset=utf-8';
