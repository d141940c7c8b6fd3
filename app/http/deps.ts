// What the HTTP layer is given by the composition root (app/service.ts).
import type { Pool } from '../../db/pool.ts';
import type { Config } from '../config.ts';
import type { WaiterRegistry } from '../delivery/waiters.ts';
import type { InboxReader } from '../services/reader.ts';
import type { DeviceTouches } from '../services/touches.ts';
import type { PagesAhead } from '../delivery/pagesAhead.ts';
import type { Resumes } from '../delivery/resumes.ts';
import type { PollAcks } from '../services/pollAcks.ts';
import type { Publisher } from '../services/publish.ts';
import type { DeliveredLog } from '../services/delivered.ts';
import type { Authenticator } from './auth.ts';
import type pino from 'pino';
import type { Ops } from '../ops/observe.ts';
import type { Signaller } from '../delivery/signals.ts';
import type { RateLimits } from './limits.ts';
import type { ConnectionSlots } from '../delivery/slots.ts';

export interface Log {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export interface Readiness {
  /** Named checks, each true when healthy. */
  check(): Promise<Record<string, boolean>>;
}

export interface Deps {
  config: Config;
  db: Pool;
  registry: WaiterRegistry;
  reader: InboxReader;
  /** Where polls and streams start (batched device touches). */
  touches: DeviceTouches;
  /** Pages read for polls paging through a backlog, before they ask. */
  pagesAhead: PagesAhead;
  /** Polls that may resume from a settled answer without a start statement. */
  resumes: Resumes;
  /** Those polls' acknowledgements, written in batches. */
  pollAcks: PollAcks;
  publisher: Publisher;
  /** Ephemeral signals (QoS 0): this process's connections, and the others through NOTIFY. */
  signals: Signaller;
  /** What was written to which device (the compensation scan's delivered hint). */
  delivered: DeliveredLog;
  auth: Authenticator;
  log: Log;
  readiness: Readiness;
  /** Metrics, delivery record, cached figures (app/ops). */
  ops: Ops;
  /** Request logger; null when LOG_HTTP is off. */
  httpLog: pino.Logger | null;
  listenerReady: () => boolean;
  rates: RateLimits;
  slots: ConnectionSlots;
}
