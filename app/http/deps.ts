// What the HTTP layer is given by the composition root (app/service.ts).
import type { Pool } from '../../db/pool.ts';
import type { Config } from '../config.ts';
import type { WaiterRegistry } from '../delivery/waiters.ts';
import type { InboxReader } from '../services/reader.ts';
import type { Publisher } from '../services/publish.ts';
import type { Authenticator } from './auth.ts';
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
  publisher: Publisher;
  auth: Authenticator;
  log: Log;
  readiness: Readiness;
  rates: RateLimits;
  slots: ConnectionSlots;
}
