// Publishing with group commit. Publishes that arrive while earlier ones are being committed wait
// in a queue and are stored together by the next statement: one transaction, one disk flush, many
// messages. Each caller is answered only after its COMMIT (a 2xx means durable). Under light load a
// publish goes alone, at once; under heavy load batches grow by themselves.
import crypto from 'node:crypto';
import type { Pool } from '../../db/pool.ts';
import { isConnectionError } from '../../db/pool.ts';
import { insertMessages, findByDedup, type NewMessage, type StoredMessage } from '../../db/queries/publish.ts';
import { groupSize } from '../../db/queries/groups.ts';
import { ApiError } from '../errors.ts';
import { messageId } from './messageId.ts';
import { userKey } from '../delivery/keys.ts';
import type { FanoutQueue } from './fanout.ts';
import type { BodyCache } from './bodyCache.ts';

export interface PublishInput {
  tenantId: string;
  sender: string;
  /** Whether the sender is a user whose own inbox gets a copy (not "system"). */
  senderIsUser: boolean;
  to: readonly string[];
  group: string | null;
  /** Only a member may publish to the group (client tokens: a user speaks in its own groups). */
  memberOnly: boolean;
  type: string;
  /** The payload already serialised (validated and size-checked at the edge). */
  payloadJson: string;
  dedupId: string | null;
  ttlS: number;
}

export interface PublishResult {
  /** 202: a large group's fan-out is queued (the message and the sender's copy are committed). */
  status: 200 | 201 | 202;
  body: {
    id: string;
    seqs: Record<string, number>;
    createdAt: string;
    expiresAt: string;
    duplicate: boolean;
    fanout?: 'queued';
  };
}

/**
 * This process's waiters, as the publisher sees them: every commit is handed over right after it
 * returns, with the message body, so a waiter here writes it without reading the inbox. The
 * commit's NOTIFY wakes the other processes; this one skips its own.
 */
export interface LocalDelivery {
  /** This process, as named at the end of its publishes' notifications (which it then skips). */
  readonly origin: string;
  /** A committed message: its seq per recipient, and its body JSON (as readers build it; null: wake only). */
  committed(tenantId: string, body: string | null, seqs: Readonly<Record<string, number>>): void;
  /** A batch may or may not have committed (the connection broke): every waiter here must check. */
  uncertain(): void;
}

export interface PublisherOptions {
  batchMax: number;
  concurrency: number;
  /** Groups up to this size are fanned out inside the publish transaction; larger ones are queued. */
  groupInlineMax: number;
  fanout: FanoutQueue;
  /** Keeps the bodies of committed messages for readers catching up. */
  bodies?: BodyCache;
  onFanoutError: (err: unknown, messageId: string) => void;
  local?: LocalDelivery;
}

interface Pending {
  msg: NewMessage;
  resolve: (r: StoredMessage | null) => void;
  reject: (e: unknown) => void;
}

export function requestHash(i: PublishInput): Buffer {
  const to = [...i.to].sort();
  return crypto.createHash('sha256').update(JSON.stringify([to, i.group, i.type, i.payloadJson])).digest();
}

/** What a message writes that another batch in flight must not: its inboxes and its dedupId. */
function recipientKeys(m: NewMessage): string[] {
  const keys = m.recipients.map((u) => userKey(m.tenantId, u));
  if (m.dedupId !== null) keys.push(`dedup\u0000${m.tenantId}\u0000${m.sender}\u0000${m.dedupId}`);
  return keys;
}

export class Publisher {
  private queue: Pending[] = [];
  private inFlight = 0;
  /** Inboxes (tenant, user) that a batch in flight writes. */
  private readonly writing = new Set<string>();
  /** A batch with a group message is in flight: its recipients are unknown until it runs. */
  private exclusive = false;
  /** Settles when the latest publish to arrive has joined the queue (or failed before it). */
  private lastInLine: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Pool,
    private readonly opts: PublisherOptions,
  ) {}

  /** This process's name in its publishes' notifications ('' when nothing here skips them). */
  private get origin(): string {
    return this.opts.local?.origin ?? '';
  }

  /**
   * Publishes join the queue in the order they arrived, although a group publish first looks up
   * the group (queries on different pool connections finish in any order): a message sent 50 ms
   * after another, before the first was answered, must not be stored ahead of it.
   */
  async publish(input: PublishInput): Promise<PublishResult> {
    const turn = this.lastInLine;
    let inLine!: () => void;
    this.lastInLine = new Promise((resolve) => { inLine = resolve; });
    let stored: StoredMessage | null;
    let msg: NewMessage;
    try {
      msg = await this.prepare(input);
      await turn;
      stored = await this.enqueue(msg, inLine);
    } finally {
      inLine();
    }
    return this.answer(input, msg, stored);
  }

  private async prepare(input: PublishInput): Promise<NewMessage> {
    const recipients = new Set(input.to);
    if (input.senderIsUser) recipients.add(input.sender);
    let fanout: NewMessage['fanout'] = 'none';
    if (input.group !== null) {
      // The size only picks the path; the members themselves are read inside the publish statement.
      const g = await groupSize(this.db, input.tenantId, input.group, input.sender);
      if (g === null) throw new ApiError('not_found', `group: unknown group "${input.group}"`);
      if (input.memberOnly && !g.member) throw new ApiError('forbidden', `group: ${input.sender} is not a member of "${input.group}"`);
      fanout = g.size > this.opts.groupInlineMax ? 'queued' : 'inline';
    }
    const to = [...recipients];
    return {
      tenantId: input.tenantId,
      id: messageId(),
      sender: input.sender,
      groupId: input.group,
      type: input.type,
      payloadJson: input.payloadJson,
      dedupId: input.dedupId,
      reqHash: requestHash(input),
      ttlS: input.ttlS,
      recipients: to,
      fanout,
    };
  }

  private async answer(input: PublishInput, msg: NewMessage, stored: StoredMessage | null): Promise<PublishResult> {
    if (stored) {
      const body = { id: msg.id, seqs: stored.seqs, createdAt: stored.createdAt.toISOString(), expiresAt: stored.expiresAt.toISOString(), duplicate: false };
      if (stored.queued === null) return { status: 201, body };
      // Committed with its outbox row: a failed hand-off only delays the fan-out until the re-drive scan.
      await this.opts.fanout.enqueue({ tenantId: msg.tenantId, messageId: msg.id }).catch((err) => this.opts.onFanoutError(err, msg.id));
      return { status: 202, body: { ...body, fanout: 'queued' } };
    }
    // The dedupId exists already: the same request is answered as the first time; another is a conflict.
    const prior = await findByDedup(this.db, input.tenantId, input.sender, input.dedupId!);
    if (!prior) throw new ApiError('unavailable', 'the earlier message with this dedupId is being removed; retry', {}, 1);
    if (!prior.reqHash || !prior.reqHash.equals(msg.reqHash)) {
      throw new ApiError('dedup_conflict', 'dedupId was already used for a different message', { id: prior.id });
    }
    return {
      status: 200,
      body: {
        id: prior.id, seqs: prior.seqs, createdAt: prior.createdAt.toISOString(), expiresAt: prior.expiresAt.toISOString(), duplicate: true,
        ...(prior.queued && { fanout: 'queued' as const }),
      },
    };
  }

  /** Publishes waiting for a transaction (for metrics and tests). */
  get backlog(): number {
    return this.queue.length;
  }

  /** Queues the message for the next batch; `queued` is called once it is in the queue. */
  private enqueue(msg: NewMessage, queued: () => void): Promise<StoredMessage | null> {
    return new Promise((resolve, reject) => {
      this.queue.push({ msg, resolve, reject });
      queued();
      this.kick();
    });
  }

  /**
   * Starts batches while fewer than `concurrency` are in flight. A message to a user whose inbox
   * a batch in flight writes waits for it: two transactions take the inbox row lock in whatever
   * order they reach it, so the later publish could get the lower seq. Messages behind a waiting
   * one with a recipient in common wait too; others may pass it. A group message's members are
   * read by the statement itself, so it runs only with nothing else in flight, and nothing starts
   * after it until it is done. With one in flight at a time (the default) a batch is simply the
   * head of the queue.
   */
  private kick(): void {
    while (this.inFlight < this.opts.concurrency && this.queue.length > 0 && !this.exclusive) {
      const { batch, keys } = this.takeBatch();
      if (batch.length === 0) return;
      const exclusive = batch.some((p) => p.msg.fanout !== 'none');
      for (const k of keys) this.writing.add(k);
      this.exclusive = exclusive;
      this.inFlight++;
      void this.commit(batch).finally(() => {
        for (const k of keys) this.writing.delete(k);
        if (exclusive) this.exclusive = false;
        this.inFlight--;
        this.kick();
      });
    }
  }

  /**
   * The next batch in arrival order, leaving in the queue what must wait (see kick), and what the
   * batch writes (none tracked with one writer at a time, the default: nothing to keep apart).
   */
  private takeBatch(): { batch: Pending[]; keys: string[] } {
    if (this.inFlight === 0) {
      const batch = this.queue.splice(0, this.opts.batchMax);
      return { batch, keys: this.opts.concurrency > 1 ? batch.flatMap((p) => recipientKeys(p.msg)) : [] };
    }
    const batch: Pending[] = [];
    const taken: string[] = [];
    const rest: Pending[] = [];
    const held = new Set<string>();
    let i = 0;
    for (; i < this.queue.length && batch.length < this.opts.batchMax; i++) {
      const p = this.queue[i]!;
      if (p.msg.fanout !== 'none') break;
      const keys = recipientKeys(p.msg);
      if (keys.some((k) => this.writing.has(k) || held.has(k))) {
        for (const k of keys) held.add(k);
        rest.push(p);
      } else {
        batch.push(p);
        taken.push(...keys);
      }
    }
    this.queue = [...rest, ...this.queue.slice(i)];
    return { batch, keys: taken };
  }

  /** Committed: waiters here get it first, then the publisher its answer. */
  private done(p: Pending, stored: StoredMessage | null): void {
    if (stored?.body) this.opts.bodies?.remember(p.msg.id, stored.body);
    if (stored && this.opts.local) this.opts.local.committed(p.msg.tenantId, stored.body, stored.seqs);
    p.resolve(stored);
  }

  private async commit(batch: Pending[]): Promise<void> {
    let out: (StoredMessage | null)[];
    try {
      out = await insertMessages(this.db, batch.map((p) => p.msg), this.origin);
    } catch (err) {
      if (isConnectionError(err)) this.opts.local?.uncertain();
      if (batch.length === 1 || isConnectionError(err)) {
        for (const p of batch) p.reject(err);
        return;
      }
      // One bad message must not fail the others: store each on its own, one after another (in
      // parallel, two to one user could take their seqs in either order).
      for (const p of batch) {
        let stored: StoredMessage | null;
        try {
          stored = (await insertMessages(this.db, [p.msg], this.origin))[0] ?? null;
        } catch (e) {
          if (isConnectionError(e)) this.opts.local?.uncertain();
          p.reject(e);
          continue;
        }
        this.done(p, stored);
      }
      return;
    }
    batch.forEach((p, i) => this.done(p, out[i] ?? null));
  }
}
