// Edge parsers: raw request parts in, typed values out, or a 400 naming the offending field.
// Inner layers trust what comes out of here. Limits live in LIMITS, in one place.
import { z } from 'zod';
import { ApiError, invalid } from '../errors.ts';

export const LIMITS = {
  recipients: 1000,
  batch: 500,
  pollLimit: 1000,
  historyLimit: 1000,
  payloadDepth: 32,
  idLength: 128,
  dedupIdLength: 128,
  typeLength: 64,
  /** Users in one PUT or POST of group members (the total is GROUP_MAX_MEMBERS). */
  groupMembersPerRequest: 100_000,
  receiptsLimit: 1000,
  /** Signals are QoS 0 notes ("typing…", a cursor): small, and they ride a NOTIFY (8000-byte limit). */
  signalPayloadBytes: 4096,
  /** Users in one GET /v1/presence. */
  presenceUsers: 1000,
} as const;

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const ID_RE = /^[A-Za-z0-9._:@-]{1,128}$/;
export const TYPE_RE = /^[A-Za-z0-9._:-]{1,64}$/;

export const Id = z.string().regex(ID_RE, 'must be 1-128 characters of A-Z a-z 0-9 . _ : @ -');
export const MessageType = z.string().regex(TYPE_RE, 'must be 1-64 characters of A-Z a-z 0-9 . _ : -');
const DedupId = z.string().regex(/^[\x21-\x7e]{1,128}$/, 'must be 1-128 printable ASCII characters');
// Not z.record: it copies the object and drops a "__proto__" key, so a payload would be stored
// other than sent. JSON.parse makes such keys plain own properties; the object is kept as parsed
// and stored faithfully (it is only ever serialised again, never merged into another object).
const JsonObject = z.custom<Record<string, unknown>>(
  (v) => v !== null && typeof v === 'object' && !Array.isArray(v),
  { message: 'must be a JSON object' },
).meta({ type: 'object', additionalProperties: true, description: 'any JSON object' });

export const PublishBody = z.strictObject({
  to: z.array(Id).min(1).max(LIMITS.recipients).optional(),
  group: Id.optional(),
  from: Id.optional(),
  type: MessageType.optional(),
  payload: JsonObject,
  dedupId: DedupId.optional(),
  ttlSeconds: z.number().int().min(1).optional(),
});
export type PublishBody = z.infer<typeof PublishBody>;

export const SignalBody = z.strictObject({
  to: z.array(Id).min(1).max(LIMITS.recipients).optional(),
  group: Id.optional(),
  from: Id.optional(),
  type: MessageType.optional(),
  payload: JsonObject,
});
export type SignalBody = z.infer<typeof SignalBody>;

export const BatchBody = z.strictObject({ messages: z.array(z.unknown()).min(1).max(LIMITS.batch) });

export const TokenBody = z.strictObject({
  user: Id,
  device: Id.optional(),
  ttlSeconds: z.number().int().min(1).optional(),
  scope: z.enum(['subscribe', 'subscribe publish', 'publish subscribe']).optional(),
});

export const AckBody = z.strictObject({ seq: z.number().int().min(0) });
export const ReadBody = AckBody;

export const GroupPutBody = z.strictObject({
  members: z.array(Id).max(LIMITS.groupMembersPerRequest),
  presence: z.boolean().optional(),
});
export const GroupAddBody = z.strictObject({ users: z.array(Id).min(1).max(LIMITS.groupMembersPerRequest) });

/** A path parameter that must be an id (user, group, device). */
export function idPath(value: string | undefined, name: string): string {
  if (value === undefined || !ID_RE.test(value)) throw invalid(`${name}: must be 1-128 characters of A-Z a-z 0-9 . _ : @ -`);
  return value;
}

function describe(err: z.ZodError): string {
  const issue = err.issues[0]!;
  const where = issue.path.length ? issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.').replace(/\.\[/g, '[') : 'body';
  if (issue.code === 'unrecognized_keys') return `${where}: unknown field ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  if (issue.code === 'invalid_type' && issue.input === undefined) return `${where}: is required`;
  return `${where}: ${issue.message}`;
}

/** Parses a body with a schema; a failure is a 400 naming the field. */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown, prefix = ''): z.infer<T> {
  if (body === undefined) throw invalid('a JSON body is required (Content-Type: application/json)');
  const r = schema.safeParse(body);
  if (!r.success) throw invalid(prefix + describe(r.error));
  return r.data;
}

/**
 * Checks a payload can be stored as jsonb and serialises it once: no NUL and no lone surrogate in
 * any string or key (jsonb refuses them), nesting at most LIMITS.payloadDepth (deeper input also
 * overflows JSON.stringify), and a size limit. Iterative, so hostile depth cannot blow the stack.
 */
export function payloadJson(payload: Record<string, unknown>, maxBytes: number, field = 'payload'): string {
  const stack: [unknown, number][] = [[payload, 1]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (typeof v === 'string') {
      checkString(v, field);
    } else if (v !== null && typeof v === 'object') {
      if (depth > LIMITS.payloadDepth) throw invalid(`${field}: nested deeper than ${LIMITS.payloadDepth} levels`);
      if (Array.isArray(v)) {
        for (const x of v) stack.push([x, depth + 1]);
      } else {
        for (const [k, x] of Object.entries(v)) {
          checkString(k, field);
          stack.push([x, depth + 1]);
        }
      }
    } else if (typeof v === 'number' && !Number.isFinite(v)) {
      throw invalid(`${field}: numbers must be finite`);
    }
  }
  const json = JSON.stringify(payload);
  if (Buffer.byteLength(json) > maxBytes) {
    throw new ApiError('payload_too_large', `${field} is larger than ${maxBytes} bytes`);
  }
  return json;
}

function checkString(s: string, field: string): void {
  if (s.includes('\u0000')) throw invalid(`${field}: strings may not contain \\u0000`);
  if (!s.isWellFormed()) throw invalid(`${field}: strings may not contain lone UTF-16 surrogates`);
}

type Query = Record<string, unknown>;

function single(q: Query, name: string): string | undefined {
  const v = q[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw invalid(`${name}: must be given once`);
  return v;
}

/** An integer query parameter; non-integers are 400. `clamp` caps at max instead of refusing. */
export function intParam(q: Query, name: string, o: { min: number; max: number; clamp?: boolean }): number | undefined {
  const raw = single(q, name);
  if (raw === undefined) return undefined;
  if (!/^\d{1,15}$/.test(raw)) throw invalid(`${name}: must be a non-negative integer`);
  const n = Number(raw);
  if (n < o.min) throw invalid(`${name}: must be at least ${o.min}`);
  if (n > o.max) {
    if (o.clamp) return o.max;
    throw invalid(`${name}: must be at most ${o.max}`);
  }
  return n;
}

export function boolParam(q: Query, name: string): boolean | undefined {
  const raw = single(q, name);
  if (raw === undefined) return undefined;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw invalid(`${name}: must be true or false`);
}

export function stringParam(q: Query, name: string, re: RegExp, what: string): string | undefined {
  const raw = single(q, name);
  if (raw === undefined) return undefined;
  if (!re.test(raw)) throw invalid(`${name}: ${what}`);
  return raw;
}

/** `match=` is a JSON object matched by containment; checked like a payload. */
export function matchParam(q: Query, maxBytes: number): string | undefined {
  const raw = single(q, 'match');
  if (raw === undefined) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw invalid('match: must be a JSON object');
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw invalid('match: must be a JSON object');
  return payloadJson(v as Record<string, unknown>, maxBytes, 'match');
}

/** `users=a,b,c`: distinct user ids, 1..LIMITS.presenceUsers. */
export function usersParam(q: Query, name: string): string[] {
  const raw = single(q, name);
  if (raw === undefined || raw === '') throw invalid(`${name}: is required (comma-separated user ids)`);
  const users = [...new Set(raw.split(','))];
  if (users.length > LIMITS.presenceUsers) throw invalid(`${name}: at most ${LIMITS.presenceUsers} users`);
  const bad = users.find((u) => !ID_RE.test(u));
  if (bad !== undefined) throw invalid(`${name}: "${bad.slice(0, 130)}" is not a user id (1-128 characters of A-Z a-z 0-9 . _ : @ -)`);
  return users;
}

/** A Last-Event-ID header: a seq. Anything else is a 400 (it would be a client bug). */
export function lastEventId(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  if (!/^\d{1,15}$/.test(v.trim())) throw invalid('Last-Event-ID: must be a seq (a non-negative integer)');
  return Number(v.trim());
}
