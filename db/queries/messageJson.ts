// SQL fragments shared by the queries that return messages. A message leaves PostgreSQL as JSON
// text, built once there, so Node never parses and re-serialises payloads on the delivery path.

/** JSON of a message without its seq (the seq differs per inbox): alias `m` must be `messages`. */
export const MESSAGE_BODY_JSON = `(SELECT row_to_json(x)::text FROM (SELECT
  m.id, m.sender AS "from", m.group_id AS "group", m.type, m.payload,
  to_char(m.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "createdAt",
  to_char(m.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "expiresAt") x)`;

/** Adds the inbox seq in front of a body made by MESSAGE_BODY_JSON. */
export function withSeq(seq: number, body: string): string {
  return `{"seq":${seq},${body.slice(1)}`;
}
