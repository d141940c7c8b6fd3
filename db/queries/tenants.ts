// Tenants and their API keys.
import type { Queryable } from '../pool.ts';

export interface TenantRow {
  id: string;
  signingSecret: string;
  maxTtlS: number;
}

export async function insertTenant(db: Queryable, t: TenantRow): Promise<boolean> {
  const { rowCount } = await db.query(
    'INSERT INTO tenants (id, signing_secret, max_ttl_s) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING',
    [t.id, t.signingSecret, t.maxTtlS],
  );
  return rowCount === 1;
}

export async function findTenant(db: Queryable, id: string): Promise<TenantRow | null> {
  const { rows } = await db.query<{ id: string; signing_secret: string; max_ttl_s: number }>({
    name: 'find_tenant',
    text: 'SELECT id, signing_secret, max_ttl_s FROM tenants WHERE id = $1',
    values: [id],
  });
  const r = rows[0];
  return r ? { id: r.id, signingSecret: r.signing_secret, maxTtlS: r.max_ttl_s } : null;
}

export async function listTenants(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>('SELECT id FROM tenants ORDER BY id');
  return rows.map((r) => r.id);
}

export type Role = 'admin' | 'publish';

export interface ApiKeyRow {
  id: string;
  tenantId: string;
  role: Role;
  secretHash: Buffer;
}

export async function insertApiKey(db: Queryable, k: ApiKeyRow & { label: string | null }): Promise<void> {
  await db.query('INSERT INTO api_keys (id, tenant_id, role, secret_hash, label) VALUES ($1, $2, $3, $4, $5)',
    [k.id, k.tenantId, k.role, k.secretHash, k.label]);
}

export async function findApiKey(db: Queryable, id: string): Promise<ApiKeyRow | null> {
  const { rows } = await db.query<{ id: string; tenant_id: string; role: Role; secret_hash: Buffer }>({
    name: 'find_api_key',
    text: 'SELECT id, tenant_id, role, secret_hash FROM api_keys WHERE id = $1 AND revoked_at IS NULL',
    values: [id],
  });
  const r = rows[0];
  return r ? { id: r.id, tenantId: r.tenant_id, role: r.role, secretHash: r.secret_hash } : null;
}

export async function revokeApiKey(db: Queryable, tenantId: string, id: string): Promise<boolean> {
  const { rowCount } = await db.query('UPDATE api_keys SET revoked_at = now() WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL', [tenantId, id]);
  return rowCount === 1;
}
