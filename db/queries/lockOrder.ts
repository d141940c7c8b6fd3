// The one order in which statements lock several device rows: (user, device), bytewise. The poll
// start statement inserts in this order; a statement locking the same rows in another order (its
// input's, or the table's physical order, whichever its plan follows) can deadlock with it, and
// the statement PostgreSQL aborts has waited deadlock_timeout (1 s) first — a poll start stuck
// that long delays a delivery by as much.

/**
 * A SELECT locking the devices named by $2 (users) and $3 (devices) of tenant $1 in that order,
 * returning user_id, device_id (and seq from $4 when `withSeq`). Rows are looked up one by one
 * (LATERAL, LIMIT 1): a plain join may scan the tenant's whole partition and lock in its order.
 * `extra` narrows which rows need locking (`d` is the device row, `v` the input row); `columns`
 * are more device columns to return, as they were when locked.
 */
export function lockDevicesInOrder(withSeq: boolean, extra = '', columns: readonly string[] = []): string {
  const input = withSeq
    ? 'unnest($2::text[], $3::text[], $4::bigint[]) AS i(user_id, device_id, seq)'
    : 'unnest($2::text[], $3::text[]) AS i(user_id, device_id)';
  const more = (alias: string) => columns.map((c) => `, ${alias}.${c}`).join('');
  return `SELECT x.user_id, x.device_id${withSeq ? ', v.seq' : ''}${more('x')}
    FROM (SELECT * FROM ${input} ORDER BY i.user_id COLLATE "C", i.device_id COLLATE "C") v
    CROSS JOIN LATERAL (
      SELECT d.user_id, d.device_id${more('d')} FROM devices d
      WHERE d.tenant_id = $1 AND d.user_id = v.user_id AND d.device_id = v.device_id ${extra}
      LIMIT 1 FOR UPDATE) x`;
}
