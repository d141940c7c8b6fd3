// Message ids are UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits. Ids made
// close in time sort close together, so the primary-key index of `messages` grows at its right
// edge instead of at random leaf pages (fewer pages dirtied and written to the WAL per publish),
// and reading a page of an inbox touches neighbouring index pages instead of scattered ones.
// Clients still treat ids as opaque strings.
import crypto from 'node:crypto';

/** A UUIDv7 string: a random UUID (its variant bits kept) with the timestamp and version set. */
export function messageId(now = Date.now()): string {
  const r = crypto.randomUUID();
  const ts = now.toString(16).padStart(12, '0');
  return `${ts.slice(0, 8)}-${ts.slice(8, 12)}-7${r.slice(15)}`;
}
