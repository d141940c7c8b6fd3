// Mocha root hooks: one embedded PostgreSQL for the whole run, migrated once. Tests isolate
// themselves by tenant (every test makes its own), which is also what the product promises.
// Spawned server processes find the database through TEST_DATABASE_URL.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startEmbedded, type EmbeddedDb } from '../db/embedded.ts';
import { migrate } from '../db/migrate.ts';
import { setTestDb } from './helpers/db.ts';

let db: EmbeddedDb | null = null;
let dir: string | null = null;

export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(120_000);
    if (process.env.TEST_DATABASE_URL) {
      await migrate(process.env.TEST_DATABASE_URL);
      setTestDb({ url: process.env.TEST_DATABASE_URL, embedded: null });
      return;
    }
    // PostgreSQL runs as the user `postgres`: every folder above its data must be traversable.
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mailslot-test-'));
    await fs.chmod(dir, 0o755);
    // fsync off: a throwaway cluster; crash tests kill the server process, not the database.
    db = await startEmbedded({ dir, postgresFlags: ['-c', 'fsync=off', '-c', 'full_page_writes=off'] });
    await migrate(db.url);
    process.env.TEST_DATABASE_URL = db.url;
    setTestDb({ url: db.url, embedded: db });
  },
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    if (db) await db.stop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  },
};
