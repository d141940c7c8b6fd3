// The process's one LISTEN connection. A dedicated pg.Client (never from the pool: a pooled client
// would be recycled and lose its LISTEN). On any loss it reconnects with capped, jittered backoff,
// re-LISTENs and then emits 'ready' — the owner must then re-check every waiter, because
// notifications sent while disconnected are gone. A NOTIFY is only ever a latency hint.
//
// States: CONNECTING -> READY -> (lost) -> CONNECTING … ; CLOSED after close().
import { EventEmitter } from 'node:events';
import pg from 'pg';

export const CHANNEL = 'mailslot';

export interface ListenerEvents {
  notification: [payload: string];
  ready: [];
  down: [err: Error];
}

export class Listener extends EventEmitter<ListenerEvents> {
  private client: pg.Client | null = null;
  private closed = false;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  #ready = false;

  constructor(private readonly connectionString: string, private readonly maxBackoffMs = 5000) {
    super();
  }

  get ready(): boolean {
    return this.#ready;
  }

  /** Connects; resolves on the first successful LISTEN, but keeps retrying in the background regardless. */
  start(): Promise<void> {
    const first = new Promise<void>((resolve) => this.once('ready', resolve));
    void this.connect();
    return first;
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    // A connect that never completes (an unreachable host) must not stall reconnecting forever.
    const client = new pg.Client({
      connectionString: this.connectionString, keepAlive: true, application_name: 'mailslot-listen', connectionTimeoutMillis: 5000,
    });
    this.client = client;
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('LISTEN connection ended')));
    client.on('notification', (n) => {
      if (n.channel === CHANNEL && n.payload !== undefined) this.emit('notification', n.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
      if (this.client !== client || this.closed) return;
      this.attempt = 0;
      this.#ready = true;
      this.emit('ready');
    } catch (err) {
      this.lost(client, err as Error);
    }
  }

  private lost(client: pg.Client, err: Error): void {
    if (this.client !== client) return; // an old client's late event
    this.client = null;
    const wasReady = this.#ready;
    this.#ready = false;
    client.removeAllListeners('notification');
    client.end().catch(() => undefined);
    if (this.closed) return;
    if (wasReady || this.attempt === 0) this.emit('down', err);
    const delay = Math.min(this.maxBackoffMs, 100 * 2 ** this.attempt++) * (0.5 + Math.random() / 2);
    this.retryTimer = setTimeout(() => { this.retryTimer = null; void this.connect(); }, delay);
  }

  /** Backend PID of the LISTEN connection (tests terminate it to prove reconnect). */
  async backendPid(): Promise<number | null> {
    const c = this.client;
    if (!c || !this.#ready) return null;
    const { rows } = await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    return rows[0]?.pid ?? null;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.#ready = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const c = this.client;
    this.client = null;
    if (c) await c.end().catch(() => undefined);
  }
}
