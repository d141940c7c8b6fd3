// A small SSE reader on node:http (supertest buffers whole bodies, useless for live streams).
import http from 'node:http';

export interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

export interface SseClient {
  status: number;
  headers: http.IncomingHttpHeaders;
  events: SseEvent[];
  comments: string[];
  /** The raw text received so far. */
  raw: string;
  closed: boolean;
  messages(): { seq: number; payload: Record<string, unknown>; [k: string]: unknown }[];
  waitFor(pred: (c: SseClient) => boolean, timeoutMs?: number): Promise<void>;
  close(): void;
}

export function openSse(url: string, path: string, headers: Record<string, string> = {}): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const req = http.get(new URL(path, url), { headers: { accept: 'text/event-stream', ...headers } });
    const waiters = new Set<() => void>();
    const notify = () => { for (const w of [...waiters]) w(); };
    req.on('error', (e) => { c.closed = true; notify(); reject(e); });
    const c: SseClient = {
      status: 0, headers: {}, events: [], comments: [], raw: '', closed: false,
      messages: () => c.events.filter((e) => e.event === 'message').map((e) => JSON.parse(e.data)),
      waitFor(pred, timeoutMs = 10_000) {
        if (pred(c)) return Promise.resolve();
        return new Promise((res, rej) => {
          const t = setTimeout(() => { waiters.delete(check); rej(new Error(`SSE wait timed out; got ${c.events.length} events, closed=${c.closed}`)); }, timeoutMs);
          const check = () => { if (pred(c)) { clearTimeout(t); waiters.delete(check); res(); } };
          waiters.add(check);
        });
      },
      close() { req.destroy(); c.closed = true; },
    };
    req.on('response', (res) => {
      c.status = res.statusCode ?? 0;
      c.headers = res.headers;
      res.setEncoding('utf8');
      let buf = '';
      res.on('data', (chunk: string) => {
        c.raw += chunk;
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev: SseEvent = { event: 'message', data: '' };
          const data: string[] = [];
          let any = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) { c.comments.push(line.slice(1).trim()); continue; }
            const k = line.indexOf(':');
            const field = k < 0 ? line : line.slice(0, k);
            const value = k < 0 ? '' : line.slice(k + 1).replace(/^ /, '');
            if (field === 'data') { data.push(value); any = true; } else if (field === 'event') { ev.event = value; } else if (field === 'id') { ev.id = value; }
          }
          if (any) { ev.data = data.join('\n'); c.events.push(ev); }
        }
        notify();
      });
      res.on('close', () => { c.closed = true; notify(); });
      resolve(c);
    });
  });
}
