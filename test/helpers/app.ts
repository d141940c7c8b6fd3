// The app in-process on port 0 against the run's database, with a fresh tenant of its own.
import crypto from 'node:crypto';
import supertest from 'supertest';
import type pino from 'pino';
import { loadConfig, type Config } from '../../app/config.ts';
import { startService, createLogger, type Service } from '../../app/service.ts';
import { createTenant, createApiKey } from '../../app/services/credentials.ts';
import { testDb } from './db.ts';

export interface Tenant {
  id: string;
  adminKey: string;
  publishKey: string;
}

export interface TestApp {
  url: string;
  service: Service;
  tenant: Tenant;
  http: ReturnType<typeof supertest>;
  /** A client token for a user (and device). */
  token(user: string, o?: { device?: string; publish?: boolean; ttlSeconds?: number; tenant?: Tenant }): Promise<string>;
  /** Publishes with the admin key; asserts a 2xx and returns the body. */
  publish(body: Record<string, unknown>, tenant?: Tenant): Promise<{ id: string; seqs: Record<string, number> }>;
  newTenant(): Promise<Tenant>;
  close(): Promise<void>;
}

export const uid = (prefix = 'u') => `${prefix}${crypto.randomBytes(5).toString('hex')}`;

export async function makeTenant(service: Service): Promise<Tenant> {
  const t = await createTenant(service.deps.db, uid('t'), 7 * 86400);
  if (!t) throw new Error('tenant exists');
  return { id: t.tenantId, adminKey: t.adminKey, publishKey: await createApiKey(service.deps.db, t.tenantId, 'publish', 'test') };
}

/** Environment-style settings, exactly as an operator would set them (shrunk for tests). */
export async function startApp(env: Record<string, string> = {}, overrides: Partial<Config> = {}, log?: pino.Logger): Promise<TestApp> {
  const config = loadConfig({ DATABASE_URL: testDb().url, PORT: '0', SAFETY_TICK_S: '1', ...env }, overrides);
  const service = await startService(config, log ?? createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'));
  const tenant = await makeTenant(service);
  const http = supertest(service.url);
  const app: TestApp = {
    url: service.url,
    service,
    tenant,
    http,
    async token(user, o = {}) {
      const t = o.tenant ?? tenant;
      const r = await http.post('/v1/tokens').set('Authorization', `Bearer ${t.adminKey}`)
        .send({ user, ...(o.device && { device: o.device }), ...(o.ttlSeconds && { ttlSeconds: o.ttlSeconds }), scope: o.publish ? 'subscribe publish' : 'subscribe' });
      if (r.status !== 201) throw new Error(`token: ${r.status} ${r.text}`);
      return r.body.token as string;
    },
    async publish(body, t = tenant) {
      const r = await http.post('/v1/messages').set('Authorization', `Bearer ${t.adminKey}`).send(body);
      if (r.status < 200 || r.status > 299) throw new Error(`publish: ${r.status} ${r.text}`);
      return r.body;
    },
    newTenant: () => makeTenant(service),
    close: () => service.close(),
  };
  return app;
}
