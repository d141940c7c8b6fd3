// GET /v1/poll: long polling. Answers at once when entries after `since` exist, else holds the
// request in the waiter registry until one arrives, the timeout passes, or a newer poll of the
// same device supersedes it. Served on the hot path (a Call, not express).
import type { Deps } from '../deps.ts';
import { clientToken } from '../auth.ts';
import { holdSlot } from '../limits.ts';
import { intParam, boolParam, LIMITS } from '../validate.ts';
import { startPoll, type Start } from '../../services/inbox.ts';
import type { PendingAck } from '../../services/pollAcks.ts';
import { PollSession, type PollEnd } from '../../delivery/polls.ts';
import type { Entry } from '../../services/reader.ts';
import { respond, JSON_TYPE, type Call } from '../call.ts';
import { pollAnswer } from '../wire.ts';
import { delivered } from '../../ops/observe.ts';
import type { Held } from '../logging.ts';

const NO_STORE = ['Cache-Control', 'no-store'];

/** How a poll ended, counted once. */
function pollEnded(d: Deps, h: Held, end: PollEnd | 'closed'): void {
  if (h.end) return;
  h.end = end;
  d.ops.metrics?.pollEnds.inc({ end });
}

export async function servePoll(d: Deps, call: Call): Promise<void> {
  const { res, query: q } = call;
  const p = clientToken(call);
  await d.rates.connect(p);
  const release = holdSlot(d.slots, 'poll', p);
  let session: PollSession | null = null;
  // The client may be gone already (while the request was authenticated): its 'close' was then
  // emitted before this listener existed.
  let closed = call.req.socket.destroyed;
  res.on('close', () => {
    closed = true;
    release();
    session?.abandon();
    if (call.held) pollEnded(d, call.held, 'closed');
  });
  const since = intParam(q, 'since', { min: 0, max: Number.MAX_SAFE_INTEGER });
  const timeoutS = intParam(q, 'timeout', { min: 0, max: d.config.pollTimeoutMaxS, clamp: true }) ?? d.config.pollTimeoutDefaultS;
  const limit = intParam(q, 'limit', { min: 1, max: LIMITS.pollLimit }) ?? 100;
  const ack = boolParam(q, 'ack') ?? true;
  const device = { tenantId: p.tenantId, userId: p.userId, deviceId: p.deviceId };
  // Resuming where a settled answer of this process left off, nothing can be past `since` yet:
  // wait at once, acknowledging in a batch (delivery/resumes.ts). No await from here to the
  // registration below, or a wake could pass unseen.
  const resumed = since !== undefined ? d.resumes.take(p.tenantId, p.userId, p.deviceId, since) : null;
  let start: Start;
  let wokenHead = 0;
  let ahead: Promise<Entry[] | null> | null = null;
  let pendingAck: PendingAck | null = null;
  if (resumed && since !== undefined) {
    start = { since, head: since, read: resumed.read, floor: 0, newlyAcked: 0 };
    if (ack) pendingAck = d.pollAcks.ack(p.tenantId, p.userId, p.deviceId, since);
  } else {
    // The page after the last one answered with more, read while the client took that one.
    ahead = since !== undefined ? d.pagesAhead.take(p.tenantId, p.userId, p.deviceId, since, limit) : null;
    const endWatch = d.registry.watch(p.tenantId, p.userId);
    try {
      start = await startPoll(d.touches, device, since ?? null, ack);
    } finally {
      wokenHead = endWatch();
    }
  }
  d.ops.metrics?.pollStarts.inc({ start: resumed ? 'resumed' : 'statement' });
  if (start.newlyAcked > 0) d.ops.metrics?.acknowledged.inc({ via: 'poll' }, start.newlyAcked);
  const held: Held = { kind: 'poll', delivered: 0 };
  call.held = held;
  // The callbacks are inline arrows, not `const f = () => …`: under tsx (esbuild keepNames) a
  // closure bound to a name gets its name set by a defineProperty at creation, which gives it its
  // own property store (~0.27 KiB per held poll, heap snapshots).
  const knownHead = Math.max(start.head, wokenHead);
  session = new PollSession(d.registry, d.reader, p.tenantId, p.userId, p.deviceId, start.since, limit, Date.now() + timeoutS * 1000, knownHead, (o) => {
    if (res.writableEnded || res.destroyed) return;
    const next = o.entries.length ? o.entries[o.entries.length - 1]!.seq : start.since;
    if (o.settled && o.end !== 'superseded' && o.end !== 'shutdown') d.resumes.put(p.tenantId, p.userId, p.deviceId, next, start.read);
    if (o.entries.length) d.delivered.note(p.tenantId, p.userId, p.deviceId, next);
    let after = `,"next":${next},"more":${o.more},"read":${start.read}`;
    if (o.end === 'superseded') after += ',"superseded":true';
    // Signals and presence events that arrived while the poll was held (QoS 0: never again).
    const signals = o.notices?.get('signal');
    if (signals) after += `,"signals":[${signals.join(',')}]`;
    const presence = o.notices?.get('presence');
    if (presence) after += `,"presence":[${presence.join(',')}]`;
    after += '}';
    held.delivered = o.entries.length;
    pollEnded(d, held, o.end);
    const body = pollAnswer(o.entries, after);
    // Answered only once its `since` is acknowledged, as a started poll is.
    const send = () => {
      if (res.writableEnded || res.destroyed) return;
      respond(call, 200, JSON_TYPE, body, NO_STORE);
      delivered(d.ops, device, 'poll', o.entries);
    };
    if (pendingAck) {
      pendingAck.hurry();
      void pendingAck.done.then(send);
    } else send();
    if (o.more) d.pagesAhead.put(p.tenantId, p.userId, p.deviceId, next, limit, () => d.reader.read(p.tenantId, p.userId, next, limit + 1));
  });
  if (closed) return release(); // the client left while the poll was starting: nothing to hold
  // Nothing past the cursor at the head just read, and no wake since: wait without reading.
  const read = start.head > start.since || wokenHead > start.since;
  const entries = ahead && start.since === since ? await ahead : null;
  await (entries ? session.startWith(entries, read) : session.start(read));
  if (timeoutS === 0) session.timeout();
}
