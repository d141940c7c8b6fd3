// Benchmark clients on raw sockets: a keep-alive HTTP/1.1 request client and an SSE reader with a
// streaming chunked decoder. Far cheaper per request than node:http, so that on a 2-core machine
// the client is not what is measured.
import net from 'node:net';

export interface Reply {
  status: number;
  body: string;
}

const CRLF2 = '\r\n\r\n';

/** One keep-alive connection, one request at a time. */
export class Conn {
  private sock: net.Socket;
  private buf = '';
  private pending: { resolve: (r: Reply) => void; reject: (e: Error) => void } | null = null;
  closed = false;

  constructor(readonly host: string, readonly port: number) {
    this.sock = net.connect(port, host);
    this.sock.setNoDelay(true);
    this.sock.setEncoding('latin1');
    this.sock.on('data', (d: string) => { this.buf += d; this.parse(); });
    this.sock.on('error', (e) => this.fail(e));
    this.sock.on('close', () => this.fail(new Error('socket closed')));
  }

  request(method: string, path: string, headers: Record<string, string>, body?: string): Promise<Reply> {
    if (this.closed) return Promise.reject(new Error('connection closed'));
    if (this.pending) return Promise.reject(new Error('request in flight'));
    let head = `${method} ${path} HTTP/1.1\r\nHost: ${this.host}\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    const payload = body === undefined ? '' : Buffer.from(body, 'utf8').toString('latin1');
    if (body !== undefined) head += `Content-Length: ${Buffer.byteLength(body)}\r\n`;
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.sock.write(head + '\r\n' + payload, 'latin1');
    });
  }

  close(): void {
    this.closed = true;
    this.sock.destroy();
  }

  private fail(e: Error): void {
    this.closed = true;
    const p = this.pending;
    this.pending = null;
    p?.reject(e);
  }

  private parse(): void {
    const end = this.buf.indexOf(CRLF2);
    if (end < 0 || !this.pending) return;
    const head = this.buf.slice(0, end);
    const status = Number(head.slice(9, 12));
    const lenM = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    let body: string;
    let rest: string;
    if (lenM) {
      const len = Number(lenM[1]);
      if (this.buf.length < end + 4 + len) return;
      body = this.buf.slice(end + 4, end + 4 + len);
      rest = this.buf.slice(end + 4 + len);
    } else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
      const d = dechunk(this.buf, end + 4);
      if (!d) return;
      body = d.body;
      rest = this.buf.slice(d.end);
    } else {
      return; // read-until-close bodies are not used by this service
    }
    this.buf = rest;
    const p = this.pending;
    this.pending = null;
    p.resolve({ status, body: Buffer.from(body, 'latin1').toString('utf8') });
  }
}

function dechunk(s: string, from: number): { body: string; end: number } | null {
  let i = from;
  let body = '';
  for (;;) {
    const nl = s.indexOf('\r\n', i);
    if (nl < 0) return null;
    const size = parseInt(s.slice(i, nl), 16);
    if (Number.isNaN(size)) throw new Error('bad chunk');
    if (size === 0) {
      if (s.length < nl + 4) return null;
      return { body, end: nl + 4 };
    }
    if (s.length < nl + 2 + size + 2) return null;
    body += s.slice(nl + 2, nl + 2 + size);
    i = nl + 2 + size + 2;
  }
}

/** A pool of keep-alive connections; requests queue for a free one. */
export class ConnPool {
  private idle: Conn[] = [];
  private waiting: ((c: Conn) => void)[] = [];
  private count = 0;
  constructor(private readonly host: string, private readonly port: number, private readonly max: number) {}

  async request(method: string, path: string, headers: Record<string, string>, body?: string): Promise<Reply> {
    const c = await this.get();
    try {
      return await c.request(method, path, headers, body);
    } finally {
      this.put(c);
    }
  }

  private get(): Promise<Conn> {
    let c: Conn | undefined;
    while ((c = this.idle.pop())) if (!c.closed) return Promise.resolve(c);
    if (this.count < this.max) {
      this.count++;
      return Promise.resolve(new Conn(this.host, this.port));
    }
    return new Promise((r) => this.waiting.push(r));
  }

  private put(c: Conn): void {
    if (c.closed) {
      this.count--;
      if (this.waiting.length && this.count < this.max) {
        this.count++;
        this.waiting.shift()!(new Conn(this.host, this.port));
      }
      return;
    }
    const w = this.waiting.shift();
    if (w) w(c);
    else this.idle.push(c);
  }

  close(): void {
    for (const c of this.idle) c.close();
    this.idle = [];
  }
}

export interface SseEvent {
  id: string | null;
  event: string;
  data: string;
}

/** A raw-socket SSE reader (HTTP/1.1, chunked decoded as it streams). */
export class SseConn {
  private sock: net.Socket;
  private headDone = false;
  private raw = '';
  private text = '';
  private chunkLeft = 0;
  private chunked = false;
  status = 0;
  closed = false;
  onOpen: () => void = () => undefined;

  constructor(host: string, port: number, path: string, headers: Record<string, string>, private readonly onEvent: (e: SseEvent) => void) {
    this.sock = net.connect(port, host);
    this.sock.setNoDelay(true);
    this.sock.setEncoding('latin1');
    let head = `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nAccept: text/event-stream\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    this.sock.write(head + '\r\n');
    this.sock.on('data', (d: string) => this.onData(d));
    this.sock.on('error', () => { this.closed = true; });
    this.sock.on('close', () => { this.closed = true; });
  }

  close(): void {
    this.closed = true;
    this.sock.destroy();
  }

  private onData(d: string): void {
    if (!this.headDone) {
      this.raw += d;
      const end = this.raw.indexOf(CRLF2);
      if (end < 0) return;
      const head = this.raw.slice(0, end);
      this.status = Number(head.slice(9, 12));
      this.chunked = /\r\ntransfer-encoding:\s*chunked/i.test(head);
      this.headDone = true;
      d = this.raw.slice(end + 4);
      this.raw = '';
      this.onOpen();
    }
    if (this.chunked) this.unchunk(d);
    else this.text += d;
    this.events();
  }

  // The socket is read as latin1 (one char per byte), so chunk sizes are char counts here.
  private unchunk(d: string): void {
    this.raw += d;
    for (;;) {
      if (this.chunkLeft === 0) {
        const nl = this.raw.indexOf('\r\n');
        if (nl < 0) return;
        const line = this.raw.slice(0, nl);
        this.raw = this.raw.slice(nl + 2);
        if (line === '') continue;
        this.chunkLeft = parseInt(line, 16);
        if (this.chunkLeft === 0) { this.close(); return; }
      }
      if (this.raw.length === 0) return;
      const take = Math.min(this.chunkLeft, this.raw.length);
      this.text += this.raw.slice(0, take);
      this.raw = this.raw.slice(take);
      this.chunkLeft -= take;
    }
  }

  private events(): void {
    let i: number;
    while ((i = this.text.indexOf('\n\n')) >= 0) {
      const block = this.text.slice(0, i);
      this.text = this.text.slice(i + 2);
      if (block.startsWith(':')) continue;
      let id: string | null = null;
      let event = 'message';
      let data = '';
      for (const line of block.split('\n')) {
        if (line.startsWith('data: ')) data += (data ? '\n' : '') + line.slice(6);
        else if (line.startsWith('id: ')) id = line.slice(4);
        else if (line.startsWith('event: ')) event = line.slice(7);
      }
      if (data) this.onEvent({ id, event, data: Buffer.from(data, 'latin1').toString('utf8') });
    }
  }
}
