// Server-Sent Events framing and the response side of a stream. Pure text building plus one sink
// class; what to send and when is decided in delivery/streams.ts.
import type { ServerResponse } from 'node:http';
import { head, type Call } from './call.ts';
import type { StreamSink, StreamEnd } from '../delivery/streams.ts';
import type { Entry } from '../services/reader.ts';
import { entryBytes, putEntry, entryJson } from './wire.ts';

const FIELD_RE = /[\r\n\0]/;

/** One event. `data` may hold newlines (split into data lines); id and event may not (injection). */
export function frame(event: string, data: string, id?: number | string): string {
  if (FIELD_RE.test(event) || (id !== undefined && FIELD_RE.test(String(id)))) throw new Error('SSE field with CR/LF/NUL');
  const body = data.includes('\n') || data.includes('\r') || data.includes('\0')
    ? data.replace(/\0/g, '').split(/\r\n|\r|\n/).map((l) => `data: ${l}\n`).join('')
    : `data: ${data}\n`;
  return `${id !== undefined ? `id: ${id}\n` : ''}event: ${event}\n${body}\n`;
}

const ID = 'id: ';
const MID = '\nevent: message\ndata: ';
const END = '\n\n';

/** `id: N / event: message / data: <entry>` for each entry. */
export function messageEvents(entries: readonly Entry[]): Buffer {
  // Stored bodies are JSON text, which has no raw line breaks; should one ever carry one, the
  // general framing splits it into data lines rather than let it end the event early.
  if (entries.some((e) => FIELD_RE.test(e.body))) {
    return Buffer.from(entries.map((e) => frame('message', entryJson(e), e.seq)).join(''));
  }
  const seqs = entries.map((e) => String(e.seq));
  let n = 0;
  for (let i = 0; i < entries.length; i++) n += ID.length + seqs[i]!.length + MID.length + entryBytes(entries[i]!, seqs[i]!) + END.length;
  const out = Buffer.allocUnsafe(n);
  let o = 0;
  for (let i = 0; i < entries.length; i++) {
    o += out.write(ID, o, 'latin1');
    o += out.write(seqs[i]!, o, 'latin1');
    o += out.write(MID, o, 'latin1');
    o = putEntry(out, o, entries[i]!, seqs[i]!);
    o += out.write(END, o, 'latin1');
  }
  return out;
}

export function comment(text: string): string {
  return `: ${text.replace(/[\r\n\0]/g, ' ')}\n\n`;
}

/** 2 KiB of comment, for proxies and old browsers that buffer the start of a response. */
export const PADDING = `:${' '.repeat(2048)}\n\n`;

export interface SseOpen {
  retryMs: number;
  padding: boolean;
}

const SSE_HEADERS = [
  'Content-Type', 'text/event-stream; charset=utf-8',
  'Cache-Control', 'no-cache, no-transform',
  'X-Accel-Buffering', 'no',
];

/** Writes the response head and the prelude; the response stays open. */
export function openSse(call: Call, o: SseOpen): void {
  const { req, res } = call;
  const h = head(call, SSE_HEADERS);
  // HTTP/1.0 has no chunked encoding: Node then delimits the body by closing the connection.
  if (req.httpVersion !== '1.0') h.push('Connection', 'keep-alive');
  req.socket.setNoDelay(true);
  req.socket.setKeepAlive(true);
  res.writeHead(200, h);
  res.flushHeaders();
  forgetHead(res);
  res.write((o.padding ? PADDING : '') + `retry: ${o.retryMs}\n\n`);
}

/**
 * Node keeps a response's head as a string (`_header`, ~0.9 KiB with the security headers) for
 * as long as the response lives, after it was sent only to answer "were the headers sent?" (a
 * truthiness check, Node 20-24). A stream lives for minutes, by the ten thousand: once the head is
 * on the socket, a one-character stand-in keeps that answer and frees the rest.
 */
function forgetHead(res: ServerResponse): void {
  const r = res as unknown as { _header: unknown; _headerSent: unknown };
  if (r._headerSent === true && typeof r._header === 'string') r._header = ' ';
}

/**
 * The response side of one stream. Every write goes through put(): writers that do not wait for
 * 'drain' (events pushed by other features) cannot grow the queue past `maxBufferedBytes` — the
 * stream is cut instead, and the client resumes from its cursor.
 */
export class SseSink implements StreamSink {
  /**
   * visiblePings: heartbeats as `event: ping` (EventSource cannot see comments), for ?ping=1.
   * `onWrite` learns of every page of entries handed to the socket (metrics, delivery record).
   */
  constructor(
    private readonly res: ServerResponse,
    private readonly visiblePings = false,
    private readonly maxBufferedBytes = 1024 * 1024,
    private readonly onWrite?: (entries: readonly Entry[]) => void,
  ) {}

  ready(since: number, head: number): boolean {
    return this.put(frame('ready', `{"since":${since},"head":${head}}`));
  }

  messages(entries: readonly Entry[]): boolean {
    const ok = this.put(messageEvents(entries));
    this.onWrite?.(entries);
    return ok;
  }

  reset(oldest: number): boolean {
    return this.put(frame('reset', `{"oldest":${oldest}}`));
  }

  /** Any other event without an id (read markers, signals, presence). */
  event(event: string, data: string): boolean {
    return this.put(frame(event, data));
  }

  heartbeat(): boolean {
    return this.put(this.visiblePings ? 'event: ping\ndata: {}\n\n' : ': keepalive\n\n');
  }

  drained(withinMs: number): Promise<'drained' | 'closed' | 'timeout'> {
    const res = this.res;
    if (res.destroyed || res.writableEnded) return Promise.resolve('closed');
    if (!res.writableNeedDrain) return Promise.resolve('drained');
    return new Promise((resolve) => {
      const done = (r: 'drained' | 'closed' | 'timeout') => {
        clearTimeout(timer);
        res.off('drain', onDrain);
        res.off('close', onClose);
        resolve(r);
      };
      const onDrain = () => done('drained');
      const onClose = () => done('closed');
      const timer = setTimeout(() => done('timeout'), withinMs);
      res.on('drain', onDrain);
      res.on('close', onClose);
    });
  }

  end(reason: StreamEnd): void {
    // A slow reader would never take what is queued: free it now rather than wait on the socket.
    if (reason === 'slow') this.res.destroy();
    else if (!this.res.writableEnded) this.res.end();
  }

  private put(text: string | Buffer): boolean {
    const res = this.res;
    if (res.destroyed || res.writableEnded) return false;
    const ok = res.write(text);
    if (res.writableLength > this.maxBufferedBytes) {
      res.destroy();
      return false;
    }
    return ok;
  }
}
