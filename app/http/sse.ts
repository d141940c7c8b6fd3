// Server-Sent Events framing and the response side of a stream. Pure text building plus one sink
// class; what to send and when is decided in delivery/streams.ts.
import type { Request, Response } from 'express';
import type { StreamSink, StreamEnd } from '../delivery/streams.ts';
import type { Entry } from '../services/reader.ts';

const FIELD_RE = /[\r\n\0]/;

/** One event. `data` may hold newlines (split into data lines); id and event may not (injection). */
export function frame(event: string, data: string, id?: number | string): string {
  if (FIELD_RE.test(event) || (id !== undefined && FIELD_RE.test(String(id)))) throw new Error('SSE field with CR/LF/NUL');
  const body = data.includes('\n') || data.includes('\r') || data.includes('\0')
    ? data.replace(/\0/g, '').split(/\r\n|\r|\n/).map((l) => `data: ${l}\n`).join('')
    : `data: ${data}\n`;
  return `${id !== undefined ? `id: ${id}\n` : ''}event: ${event}\n${body}\n`;
}

export function comment(text: string): string {
  return `: ${text.replace(/[\r\n\0]/g, ' ')}\n\n`;
}

/** 2 KiB of comment, for proxies and old browsers that buffer the start of a response. */
export const PADDING = `:${' '.repeat(2048)}\n\n`;

export function messagesFrames(entries: readonly Entry[]): string {
  let out = '';
  for (const e of entries) out += frame('message', e.json, e.seq);
  return out;
}

export interface SseOpen {
  retryMs: number;
  padding: boolean;
}

/** Writes the response head and the prelude; the response stays open. */
export function openSse(req: Request, res: Response, o: SseOpen): void {
  res.status(200);
  res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  res.setHeader('Cache-Control', 'no-cache, no-transform');
  res.setHeader('X-Accel-Buffering', 'no');
  // HTTP/1.0 has no chunked encoding: Node then delimits the body by closing the connection.
  if (req.httpVersion !== '1.0') res.setHeader('Connection', 'keep-alive');
  req.socket.setNoDelay(true);
  req.socket.setKeepAlive(true);
  res.flushHeaders();
  res.write((o.padding ? PADDING : '') + `retry: ${o.retryMs}\n\n`);
}

export class SseSink implements StreamSink {
  /** visiblePings: heartbeats as `event: ping` (EventSource cannot see comments), for ?ping=1. */
  constructor(private readonly res: Response, private readonly visiblePings = false) {}

  ready(since: number, head: number): boolean {
    return this.res.write(frame('ready', `{"since":${since},"head":${head}}`));
  }

  messages(entries: readonly Entry[]): boolean {
    return this.res.write(messagesFrames(entries));
  }

  reset(oldest: number): boolean {
    return this.res.write(frame('reset', `{"oldest":${oldest}}`));
  }

  /** Any other event without an id (read markers, signals, presence). */
  event(event: string, data: string): boolean {
    return this.res.write(frame(event, data));
  }

  heartbeat(): boolean {
    return this.res.write(this.visiblePings ? 'event: ping\ndata: {}\n\n' : ': keepalive\n\n');
  }

  drained(): Promise<boolean> {
    const res = this.res;
    if (res.destroyed || res.writableEnded) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        res.off('drain', onDrain);
        res.off('close', onClose);
        resolve(ok);
      };
      const onDrain = () => done(true);
      const onClose = () => done(false);
      res.on('drain', onDrain);
      res.on('close', onClose);
    });
  }

  end(_reason: StreamEnd): void {
    if (!this.res.writableEnded) this.res.end();
  }
}
