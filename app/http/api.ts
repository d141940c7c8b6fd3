// The route table: every route's method, path, credential and request schemas, in one place. The
// routers register their handlers under these paths (`API.poll.path`), and GET /openapi.json is
// generated from this table and the same zod schemas that validate request bodies (validate.ts) —
// so the document cannot describe a body the server does not check. Query parameters are parsed by
// the edge parsers in validate.ts; their schemas here state the same ranges for the document.
import { z } from 'zod';
import { OpenAPIRegistry, OpenApiGeneratorV31, type ResponseConfig } from '@asteasolutions/zod-to-openapi';
import { PublishBody, SignalBody, BatchBody, TokenBody, AckBody, ReadBody, GroupPutBody, GroupAddBody, Id, MessageType, LIMITS } from './validate.ts';

type Auth = 'none' | 'key' | 'admin' | 'token' | 'keyOrToken' | 'metrics';

export interface RouteSpec {
  method: 'get' | 'post' | 'put' | 'delete';
  /** Express syntax (`:id`); the document uses `{id}`. */
  path: string;
  summary: string;
  auth: Auth;
  body?: z.ZodType;
  query?: z.ZodObject;
  params?: z.ZodObject;
  /** Status -> description; the content type is JSON unless given. */
  responses: Record<number, string | { description: string; type: string }>;
}

const Seq = z.number().int().min(0);
const Cursor = z.coerce.number().int().min(0).optional();
const Bool = z.enum(['true', 'false', '1', '0']).optional();
const MsgId = z.object({ id: z.uuid() });

export const API = {
  healthz: { method: 'get', path: '/healthz', summary: 'Liveness', auth: 'none', responses: { 200: 'alive' } },
  readyz: { method: 'get', path: '/readyz', summary: 'Readiness: database, migrations, LISTEN connection', auth: 'none', responses: { 200: 'ready', 503: 'not ready' } },
  tokens: { method: 'post', path: '/v1/tokens', summary: 'Mint a client token for a user (and device)', auth: 'key', body: TokenBody, responses: { 201: 'the token' } },
  publish: {
    method: 'post', path: '/v1/messages', summary: 'Publish a message to users or a group', auth: 'keyOrToken', body: PublishBody,
    responses: { 201: 'stored (durable)', 200: 'a duplicate of an earlier publish (dedupId)', 409: 'dedupId used for another message' },
  },
  batch: { method: 'post', path: '/v1/messages/batch', summary: 'Publish up to 500 messages, each on its own', auth: 'keyOrToken', body: BatchBody, responses: { 200: 'one result per message' } },
  history: {
    method: 'get', path: '/v1/messages', summary: 'Inbox history, newest first', auth: 'keyOrToken',
    query: z.object({
      user: Id.optional(), before: Cursor, after: Cursor, type: MessageType.optional(),
      match: z.string().optional(), limit: z.coerce.number().int().min(1).max(LIMITS.historyLimit).optional(),
    }),
    responses: { 200: 'messages and whether more exist' },
  },
  poll: {
    method: 'get', path: '/v1/poll', summary: 'Long poll: entries after `since`, held until one arrives or the timeout', auth: 'token',
    query: z.object({ since: Cursor, timeout: z.coerce.number().int().min(0).optional(), limit: z.coerce.number().int().min(1).max(LIMITS.pollLimit).optional(), ack: Bool, access_token: z.string().optional() }),
    responses: { 200: 'messages, next cursor', 410: 'cursor expired' },
  },
  stream: {
    method: 'get', path: '/v1/stream', summary: 'Server-Sent Events from a cursor (Last-Event-ID wins)', auth: 'token',
    query: z.object({ since: Cursor, padding: Bool, access_token: z.string().optional() }),
    responses: { 200: { description: 'an event stream: ready, message, reset', type: 'text/event-stream' } },
  },
  ack: { method: 'post', path: '/v1/ack', summary: "Move the device's cursor forward", auth: 'token', body: AckBody, responses: { 200: 'the cursor' } },
  read: { method: 'post', path: '/v1/read', summary: "Move the user's read marker forward; other devices get a `read` event", auth: 'token', body: ReadBody, responses: { 200: 'the read marker' } },
  devices: {
    method: 'get', path: '/v1/devices', summary: "The user's devices: cursor, last seen, online", auth: 'keyOrToken',
    query: z.object({ user: Id.optional() }), responses: { 200: 'devices' },
  },
  receipts: {
    method: 'get', path: '/v1/messages/:id', summary: 'A message and its receipts (delivered, read) per recipient; sender or admin only', auth: 'keyOrToken',
    params: MsgId, query: z.object({ after: z.string().optional(), limit: z.coerce.number().int().min(1).max(1000).optional() }),
    responses: { 200: 'the message, recipients and fan-out state', 404: 'no such message, or not yours' },
  },
  groupPut: {
    method: 'put', path: '/v1/groups/:group', summary: 'Create or replace a group', auth: 'admin', params: z.object({ group: Id }), body: GroupPutBody,
    responses: { 200: 'the group', 201: 'the group, created' },
  },
  groupAdd: {
    method: 'post', path: '/v1/groups/:group/members', summary: 'Add members', auth: 'admin', params: z.object({ group: Id }), body: GroupAddBody,
    responses: { 200: 'the members added' },
  },
  groupRemove: {
    method: 'delete', path: '/v1/groups/:group/members/:user', summary: 'Remove a member', auth: 'admin', params: z.object({ group: Id, user: Id }),
    responses: { 200: 'removed' },
  },
  groupGet: { method: 'get', path: '/v1/groups/:group', summary: 'A group and its members', auth: 'admin', params: z.object({ group: Id }), responses: { 200: 'the group', 404: 'no such group' } },
  stats: { method: 'get', path: '/v1/admin/stats', summary: 'Job totals, recent runs, dead letters', auth: 'admin', responses: { 200: 'figures' } },
  deadLetters: {
    method: 'get', path: '/v1/admin/dead-letters', summary: 'Dead letters of this tenant', auth: 'admin',
    query: z.object({ state: z.string().optional(), limit: z.coerce.number().int().min(1).max(1000).optional() }), responses: { 200: 'dead letters, newest first' },
  },
  deadLetterRetry: {
    method: 'post', path: '/v1/admin/dead-letters/:id/retry', summary: 'Re-arm delivery of a dead letter', auth: 'admin',
    params: z.object({ id: z.string() }), responses: { 200: 'the dead letter', 404: 'no such dead letter' },
  },
  deadLetterDiscard: {
    method: 'post', path: '/v1/admin/dead-letters/:id/discard', summary: "Acknowledge a dead letter's range away", auth: 'admin',
    params: z.object({ id: z.string() }), responses: { 200: 'the dead letter', 404: 'no such dead letter' },
  },
  metrics: { method: 'get', path: '/metrics', summary: 'Prometheus metrics of this process', auth: 'metrics', responses: { 200: { description: 'Prometheus text format', type: 'text/plain' } } },
  openapi: { method: 'get', path: '/openapi.json', summary: 'This document', auth: 'none', responses: { 200: 'OpenAPI 3.1' } },
  trace: {
    method: 'get', path: '/v1/admin/messages/:id/trace', summary: 'Where a message is: per recipient and device written, acknowledged, read', auth: 'admin',
    params: MsgId, responses: { 200: 'the trace', 404: 'no such message in this tenant' },
  },
  overview: { method: 'get', path: '/v1/admin/overview', summary: 'Live figures for the operations console', auth: 'admin', responses: { 200: 'figures' } },
  jobRuns: {
    method: 'get', path: '/v1/admin/job-runs', summary: 'Recent background job runs', auth: 'admin',
    query: z.object({ job: z.string().optional(), limit: z.coerce.number().int().min(1).max(200).optional() }), responses: { 200: 'runs, newest first' },
  },
  signals: {
    method: 'post', path: '/v1/signals', summary: 'Send an ephemeral signal (QoS 0): to open connections only, never stored, no seq', auth: 'keyOrToken', body: SignalBody,
    responses: { 202: 'sent: recipients, and connections reached ("unknown" when other instances may have reached more)', 403: 'no publish scope, or a recipient shares no group with the sender', 404: 'unknown group', 413: 'payload larger than 4 KiB' },
  },
  presence: {
    method: 'get', path: '/v1/presence', summary: 'Online state of users sharing a group with the caller (any user with an admin key); others are left out', auth: 'keyOrToken',
    query: z.object({ users: z.string(), access_token: z.string().optional() }),
    responses: { 200: 'per user: online, lastSeen' },
  },
  userDevices: {
    method: 'get', path: '/v1/admin/users/:user/devices', summary: "A user's devices: cursor, last seen, online", auth: 'admin',
    params: z.object({ user: Id }), responses: { 200: 'devices' },
  },
} as const satisfies Record<string, RouteSpec>;

const ErrorBody = z.object({ error: z.string(), message: z.string(), requestId: z.string() }).passthrough();

const SECURITY: Record<Auth, Record<string, string[]>[]> = {
  none: [],
  key: [{ apiKey: [] }],
  admin: [{ apiKey: [] }],
  token: [{ clientToken: [] }, { accessTokenQuery: [] }],
  keyOrToken: [{ apiKey: [] }, { clientToken: [] }],
  metrics: [{}, { apiKey: [] }],
};

export const toOpenApiPath = (p: string) => p.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

/** The OpenAPI 3.1 document of `routes` (the table above plus whatever other features add). */
export function openApiDocument(routes: readonly RouteSpec[], serverUrl?: string): Record<string, unknown> {
  const reg = new OpenAPIRegistry();
  reg.registerComponent('securitySchemes', 'apiKey', { type: 'http', scheme: 'bearer', description: 'API key `msk_…` (role admin or publish)' });
  reg.registerComponent('securitySchemes', 'clientToken', { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'client token from POST /v1/tokens' });
  reg.registerComponent('securitySchemes', 'accessTokenQuery', { type: 'apiKey', in: 'query', name: 'access_token', description: 'client token in the query (GET only; EventSource)' });
  const error = ErrorBody;
  for (const r of routes) {
    const responses: Record<string, ResponseConfig> = {};
    for (const [status, v] of Object.entries(r.responses)) {
      const d = typeof v === 'string' ? { description: v, type: 'application/json' } : v;
      const schema = Number(status) >= 400 ? error : d.type === 'application/json' ? z.object({}).passthrough() : z.string();
      responses[status] = { description: d.description, content: { [d.type]: { schema } } };
    }
    if (r.auth !== 'none') responses['401'] ??= { description: 'missing or invalid credential', content: { 'application/json': { schema: error } } };
    if (r.body || r.query || r.params) responses['400'] ??= { description: 'invalid request', content: { 'application/json': { schema: error } } };
    reg.registerPath({
      method: r.method,
      path: toOpenApiPath(r.path),
      summary: r.summary,
      security: SECURITY[r.auth],
      request: {
        ...(r.params && { params: r.params }),
        ...(r.query && { query: r.query }),
        ...(r.body && { body: { required: true, content: { 'application/json': { schema: r.body } } } }),
      },
      responses,
    });
  }
  return new OpenApiGeneratorV31(reg.definitions).generateDocument({
    openapi: '3.1.0',
    info: { title: 'mailslot', version: '0.1.0', description: 'Durable message delivery over HTTP long polling and Server-Sent Events.' },
    ...(serverUrl && { servers: [{ url: serverUrl }] }),
  }) as unknown as Record<string, unknown>;
}
