// `npm run mailslot -- <command>`: tenants, API keys and client tokens for scripts and operators.
// Uses DATABASE_URL, or the embedded database of `npm start` (started for the command if it is
// not running).
import { loadConfig } from './config.ts';
import path from 'node:path';
import { createPool } from '../db/pool.ts';
import { migrate } from '../db/migrate.ts';
import { startEmbedded, type EmbeddedDb } from '../db/embedded.ts';
import { createTenant, createApiKey, mintToken, findTenant, TENANT_ID_RE, type Role } from './services/credentials.ts';
import { revokeApiKey, listTenants } from '../db/queries/tenants.ts';
import { ID_RE } from './http/validate.ts';
import { traceMessage } from './services/trace.ts';

const USAGE = `usage: npm run mailslot -- <command>
  tenant create <name> [--max-ttl <seconds>]   make a tenant; prints its admin key and signing secret
  tenant list
  key create <tenant> [--role admin|publish] [--label <text>]
  key revoke <tenant> <key-id>
  token create <tenant> <user> [--device <id>] [--ttl <seconds>] [--publish]
                                                 prints a client token (for scripts and curl)
  trace <message-id> --tenant <tenant>           where a message is: per recipient and device written,
                                                 acknowledged, read; fan-out state; dead letters`;

function flags(args: string[]): { pos: string[]; opt: Map<string, string> } {
  const pos: string[] = [];
  const opt = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith('--')) {
      const next = args[i + 1];
      if (next !== undefined && !next.startsWith('--')) {
        opt.set(a.slice(2), next);
        i++;
      } else opt.set(a.slice(2), 'true');
    } else pos.push(a);
  }
  return { pos, opt };
}

function fail(msg: string): never {
  process.stderr.write(`${msg}\n\n${USAGE}\n`);
  process.exit(2);
}

function posInt(v: string | undefined, name: string, def: number): number {
  if (v === undefined) return def;
  if (!/^\d+$/.test(v) || Number(v) < 1) fail(`${name} must be a positive integer`);
  return Number(v);
}

async function main(): Promise<void> {
  const { pos, opt } = flags(process.argv.slice(2));
  const [noun, verb, ...rest] = pos;
  if (!noun || !verb) fail('missing command');
  const config = loadConfig();
  let embedded: EmbeddedDb | null = null;
  let url = config.databaseUrl;
  if (!url) {
    embedded = await startEmbedded({ dir: path.join(config.dataDir, 'pg') });
    url = embedded.url;
  }
  await migrate(url);
  const db = createPool(url, { max: 2, acquireTimeoutMs: 5000, statementTimeoutMs: 10000, onError: () => undefined });
  const out = (o: unknown) => process.stdout.write(JSON.stringify(o, null, 2) + '\n');
  try {
    if (noun === 'tenant' && verb === 'create') {
      const name = rest[0] ?? fail('tenant name required');
      if (!TENANT_ID_RE.test(name)) fail('tenant name must match [a-z0-9][a-z0-9_-]{0,62}');
      const t = await createTenant(db, name, posInt(opt.get('max-ttl'), '--max-ttl', config.messageTtlMaxS));
      if (!t) fail(`tenant "${name}" already exists`);
      out(t);
    } else if (noun === 'tenant' && verb === 'list') {
      out(await listTenants(db));
    } else if (noun === 'key' && verb === 'create') {
      const tenant = rest[0] ?? fail('tenant required');
      if (!(await findTenant(db, tenant))) fail(`no tenant "${tenant}"`);
      const role = (opt.get('role') ?? 'publish') as Role;
      if (role !== 'admin' && role !== 'publish') fail('--role is admin or publish');
      out({ tenant, role, key: await createApiKey(db, tenant, role, opt.get('label') ?? null) });
    } else if (noun === 'key' && verb === 'revoke') {
      const [tenant, id] = rest;
      if (!tenant || !id) fail('tenant and key id required (the 12 hex digits after msk_)');
      out({ revoked: await revokeApiKey(db, tenant, id) });
    } else if (noun === 'token' && verb === 'create') {
      const [tenantId, user] = rest;
      if (!tenantId || !user) fail('tenant and user required');
      if (!ID_RE.test(user)) fail('user must be 1-128 characters of A-Z a-z 0-9 . _ : @ -');
      const device = opt.get('device');
      if (device !== undefined && !ID_RE.test(device)) fail('device must be 1-128 characters of A-Z a-z 0-9 . _ : @ -');
      const tenant = await findTenant(db, tenantId);
      if (!tenant) fail(`no tenant "${tenantId}"`);
      const t = await mintToken({
        tenantId, signingSecret: tenant.signingSecret, userId: user, deviceId: device ?? null,
        scope: opt.has('publish') ? 'subscribe publish' : 'subscribe', ttlS: posInt(opt.get('ttl'), '--ttl', 3600),
      });
      out({ token: t.token, expiresAt: t.expiresAt.toISOString() });
    } else if (noun === 'trace') {
      const tenant = opt.get('tenant') ?? fail('--tenant required');
      if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(verb)) fail('the message id is a UUID');
      const t = await traceMessage(db, tenant, verb.toLowerCase());
      if (!t) {
        process.stderr.write(`no message ${verb} in tenant "${tenant}" (never published, or expired)\n`);
        process.exitCode = 1;
      } else out(t);
    } else {
      fail(`unknown command: ${noun} ${verb}`);
    }
  } finally {
    await db.end();
    // Only stop a database this command started itself (a running server keeps its own).
    if (embedded && !embedded.adopted) await embedded.stop();
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error)?.message ?? err}\n`);
  process.exit(1);
});
