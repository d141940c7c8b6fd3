// Notifications outside the publish statement (which sends its own wake-ups).
import type { Queryable } from '../pool.ts';
import { CHANNEL } from '../listen.ts';

export async function notify(db: Queryable, payload: string): Promise<void> {
  await db.query({ name: 'notify', text: 'SELECT pg_notify($1, $2)', values: [CHANNEL, payload] });
}
