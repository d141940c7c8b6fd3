// Rate limits and connection caps at the edge. Rate limits are token buckets from
// rate-limiter-flexible kept in this process's memory, so they hold per instance (N instances admit
// N times the rate). A bucket is a steady limiter (perS a second) backed by a burst limiter (`burst`
// extra tokens refilling over 10 s): short bursts pass, a sustained excess gets 429 rate_limited with
// Retry-After. Connection caps count held polls and streams (delivery/slots.ts).
import { RateLimiterMemory, BurstyRateLimiter, RateLimiterRes } from 'rate-limiter-flexible';
import type { Rate, RateLimitsConfig } from '../config.ts';
import { ApiError } from '../errors.ts';
import type { Principal, TokenPrincipal } from '../services/credentials.ts';
import type { ConnectionSlots } from '../delivery/slots.ts';
import { deviceKey } from '../delivery/keys.ts';

const BURST_WINDOW_S = 10;

class Bucket {
  private readonly limiter: RateLimiterMemory | BurstyRateLimiter | null;
  /** The most one request may take: a batch larger than the bucket still passes when it is full. */
  private readonly capacity: number;

  constructor(private readonly what: string, r: Rate) {
    this.capacity = r.perS + r.burst;
    if (r.perS === 0) {
      this.limiter = null;
      return;
    }
    const steady = new RateLimiterMemory({ points: r.perS, duration: 1 });
    this.limiter = r.burst > 0
      ? new BurstyRateLimiter(steady, new RateLimiterMemory({ points: r.burst, duration: BURST_WINDOW_S }))
      : steady;
  }

  async take(key: string, points: number): Promise<void> {
    if (!this.limiter) return;
    try {
      await this.limiter.consume(key, Math.min(points, this.capacity));
    } catch (rej) {
      if (!(rej instanceof RateLimiterRes)) throw rej;
      throw new ApiError('rate_limited', `too many ${this.what}; retry later`, {}, Math.max(1, rej.msBeforeNext / 1000));
    }
  }
}

const deviceOf = (p: TokenPrincipal) => deviceKey(p.tenantId, p.userId, p.deviceId);

export class RateLimits {
  private readonly publishDevice: Bucket;
  private readonly publishKey: Bucket;
  private readonly publishTenant: Bucket;
  private readonly connectDevice: Bucket;
  private readonly connectTenant: Bucket;

  constructor(c: RateLimitsConfig) {
    this.publishDevice = new Bucket('publishes from this device', c.publishDevice);
    this.publishKey = new Bucket('publishes with this API key', c.publishKey);
    this.publishTenant = new Bucket('publishes in this tenant', c.publishTenant);
    this.connectDevice = new Bucket('connections from this device', c.connectDevice);
    this.connectTenant = new Bucket('connections in this tenant', c.connectTenant);
  }

  /** `messages` publishes by this principal (a batch counts each message). */
  async publish(p: Principal, messages = 1): Promise<void> {
    if (p.kind === 'token') await this.publishDevice.take(deviceOf(p), messages);
    else await this.publishKey.take(p.keyId, messages);
    await this.publishTenant.take(p.tenantId, messages);
  }

  /** A poll or stream being opened. */
  async connect(p: TokenPrincipal): Promise<void> {
    await this.connectDevice.take(deviceOf(p), 1);
    await this.connectTenant.take(p.tenantId, 1);
  }
}

/**
 * Takes a connection slot, or throws 429/503. Returns its release, which the caller runs when the
 * response closes (from its one 'close' listener: a held connection keeps every listener, and a
 * third one on an emitter grows its listener array to ~170 bytes).
 */
export function holdSlot(slots: ConnectionSlots, kind: 'poll' | 'stream', p: TokenPrincipal): () => void {
  const got = slots.acquire(kind, p.tenantId, p.userId, p.deviceId);
  if (got === 'process') throw new ApiError('unavailable', 'this server holds as many connections as it may; retry shortly or elsewhere', {}, 2);
  if (got === 'device') throw new ApiError('too_many_connections', 'too many open streams for this device', {}, 5);
  if (got === 'user') throw new ApiError('too_many_connections', 'too many open streams for this user', {}, 5);
  return got;
}
