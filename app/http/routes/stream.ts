// GET /v1/stream: Server-Sent Events. Resumes from Last-Event-ID (wins), ?since, or the device's
// cursor; replays, then follows live. Does not acknowledge: clients POST /v1/ack. Served on the hot
// path (a Call, not express).
import type { Deps } from '../deps.ts';
import { clientToken } from '../auth.ts';
import { holdSlot } from '../limits.ts';
import { intParam, boolParam, lastEventId } from '../validate.ts';
import { openSse, SseSink } from '../sse.ts';
import { startStream } from '../../services/inbox.ts';
import { StreamSession, type StreamEnd } from '../../delivery/streams.ts';
import type { Call } from '../call.ts';
import { delivered } from '../../ops/observe.ts';
import type { Held } from '../logging.ts';

const PAGE = 1000;
/**
 * With ?ping=1 the first ping follows `ready` after this long, as a write of its own: a proxy that
 * lets the start of a response through and then holds the rest (gzip, buffering) shows up as a
 * missing ping, even on a quiet inbox. The browser client then long-polls instead.
 */
const FIRST_PING_MS = 1000;

export async function serveStream(d: Deps, call: Call): Promise<void> {
  const { req, res, query: q } = call;
  const p = clientToken(call);
  await d.rates.connect(p);
  const release = holdSlot(d.slots, 'stream', p);
  let session: StreamSession | null = null;
  let firstPing: NodeJS.Timeout | null = null;
  // The client may be gone already (while the request was authenticated): its 'close' was then
  // emitted before this listener existed.
  let closed = call.req.socket.destroyed;
  res.on('close', () => {
    closed = true;
    release();
    if (firstPing) clearTimeout(firstPing);
    session?.abandon();
  });
  const header = req.headers['last-event-id'];
  const cursor = lastEventId(Array.isArray(header) ? header[0] : header) ?? intParam(q, 'since', { min: 0, max: Number.MAX_SAFE_INTEGER });
  const padding = boolParam(q, 'padding') ?? false;
  const ping = boolParam(q, 'ping') ?? false;
  const device = { tenantId: p.tenantId, userId: p.userId, deviceId: p.deviceId };
  const start = await startStream(d.touches, device, cursor ?? null);
  if (closed) return release(); // the client left while the stream was starting

  openSse(call, { retryMs: d.config.streamRetryMs, padding });
  const h: Held = { kind: 'stream', delivered: 0 };
  call.held = h;
  const sink = new SseSink(res, ping, d.config.streamMaxBufferedBytes, (entries) => {
    h.delivered += entries.length;
    delivered(d.ops, device, 'stream', entries);
  });
  sink.ready(start.since, start.head);
  if (start.reset) sink.reset(start.floor + 1);
  // Jitter the lifetime so streams opened together do not all reconnect together.
  const lifetimeMs = d.config.streamMaxLifetimeS * 1000 * (0.9 + 0.1 * Math.random());
  // Callbacks as inline arrows and a method: a closure bound to a name (`const f = () => …`) gets
  // its name set by a defineProperty at creation under tsx (esbuild keepNames), which gives each
  // one its own property store, ~0.27 KiB per held stream (heap snapshots).
  session = new StreamSession(d.registry, d.reader, sink, p.tenantId, p.userId, p.deviceId, start.since, {
    pageSize: PAGE, heartbeatMs: d.config.streamHeartbeatS * 1000, closeAt: Date.now() + lifetimeMs, slowCloseMs: d.config.streamSlowCloseMs,
    onSent(seq) { d.delivered.note(p.tenantId, p.userId, p.deviceId, seq); },
  }, (end: StreamEnd) => {
    h.end ??= end;
    d.ops.metrics?.streamEnds.inc({ end });
    if (end === 'slow') d.log.info({ tenant: p.tenantId, user: p.userId, device: p.deviceId, reqId: call.id }, 'slow reader: stream closed');
  });
  firstPing = ping ? setTimeout(() => { if (!res.writableEnded) sink.heartbeat(); }, FIRST_PING_MS) : null;
  session.start();
}
