// SQL fragments shared by the queries that return messages. A message leaves PostgreSQL as JSON
// text, built once by the publish statement and stored (messages.body), so neither PostgreSQL nor
// Node rebuilds or re-serialises payloads on the delivery path.

/** Columns a message body is built from, as SQL expressions. */
interface BodyColumns {
  id: string;
  sender: string;
  group: string;
  type: string;
  /** A jsonb expression. */
  payload: string;
  createdAt: string;
  expiresAt: string;
}

const iso = (ts: string) => `to_char((${ts}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** Builds the JSON of a message without its seq (the seq differs per inbox). */
export function buildBodyJson(c: BodyColumns): string {
  return `(SELECT row_to_json(x)::text FROM (SELECT
  ${c.id} AS id, ${c.sender} AS "from", ${c.group} AS "group", ${c.type} AS type, ${c.payload} AS payload,
  ${iso(c.createdAt)} AS "createdAt", ${iso(c.expiresAt)} AS "expiresAt") x)`;
}

/**
 * The body of message row `m` (alias `m` must be `messages`): the stored one, or for a row stored
 * before migration 007, built as the publish statement builds it.
 */
export const MESSAGE_BODY_JSON = `COALESCE(m.body, ${buildBodyJson({
  id: 'm.id', sender: 'm.sender', group: 'm.group_id', type: 'm.type', payload: 'm.payload', createdAt: 'm.created_at', expiresAt: 'm.expires_at',
})})`;

/** Adds the inbox seq in front of a body made by MESSAGE_BODY_JSON. */
export function withSeq(seq: number, body: string): string {
  return `{"seq":${seq},${body.slice(1)}`;
}
