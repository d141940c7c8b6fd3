// Starts mailslot for a benchmark: a real `npm start` process on its own embedded PostgreSQL in a
// temporary folder, and reads its memory from /proc.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface BenchServer {
  url: URL;
  key: string;
  pid: number;
  dataDir: string;
  stop(): Promise<void>;
}

export interface ServerOptions {
  /** Reuse a data folder (and its database) instead of a fresh one. */
  dataDir?: string;
  /** Use this database instead of an embedded one (a second instance on the same database). */
  databaseUrl?: string;
  env?: Record<string, string>;
  nodeArgs?: string[];
}

export async function startServer(o: ServerOptions = {}): Promise<BenchServer> {
  const dataDir = o.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'mailslot-bench-'));
  fs.chmodSync(dataDir, 0o755);
  const child: ChildProcess = spawn(process.execPath, [...(o.nodeArgs ?? process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []), '--import', 'tsx', 'app/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env, PORT: '0', LOG_LEVEL: 'warn', MAILSLOT_DATA_DIR: dataDir, DATABASE_URL: o.databaseUrl ?? '',
      MAILSLOT_DEMO: o.databaseUrl ? 'false' : 'true', POLL_TIMEOUT_MAX_S: '120', ...o.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = await new Promise<URL>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 60_000);
    const on = (b: Buffer) => {
      out += b.toString();
      const m = /mailslot is running at (http:\/\/\S+)/.exec(out) ?? /"url":"(http:\/\/[^"]+)"/.exec(out);
      if (m) { clearTimeout(t); resolve(new URL(m[1]!)); }
    };
    child.stdout!.on('data', on);
    child.stderr!.on('data', on);
    child.once('exit', (c) => { clearTimeout(t); reject(new Error(`server exited ${c}:\n${out}`)); });
  });
  let key = '';
  if (!o.databaseUrl) key = fs.readFileSync(path.join(dataDir, 'demo-key'), 'utf8').trim();
  return {
    url, key, pid: child.pid!, dataDir,
    async stop() {
      if (child.exitCode === null) { child.kill('SIGTERM'); await exited; }
      if (!o.dataDir && !o.databaseUrl) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The database URL of a running embedded server (for a second instance on the same database). */
export function embeddedUrl(dataDir: string): string {
  const pgdata = path.join(dataDir, 'pg', 'pgdata');
  const port = fs.readFileSync(path.join(pgdata, 'postmaster.pid'), 'utf8').split('\n')[3];
  const pw = fs.readFileSync(path.join(dataDir, 'pg', 'pg-password'), 'utf8').trim();
  return `postgres://postgres:${encodeURIComponent(pw)}@127.0.0.1:${port}/postgres`;
}

function children(): Map<number, number[]> {
  const m = new Map<number, number[]>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]);
      if (!m.has(ppid)) m.set(ppid, []);
      m.get(ppid)!.push(Number(d));
    } catch { /* gone */ }
  }
  return m;
}

/** RSS in KiB of one process (the Node server alone: what a held connection costs). */
export function rssKiB(pid: number): number {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(s)?.[1] ?? 0);
}

/** RSS and PSS in KiB summed over a process and its descendants (server + embedded PostgreSQL). */
export function treeMemKiB(pid: number): { rss: number; pss: number } {
  const kids = children();
  const all: number[] = [];
  const todo = [pid];
  while (todo.length) {
    const p = todo.pop()!;
    all.push(p);
    todo.push(...(kids.get(p) ?? []));
  }
  let rss = 0;
  let pss = 0;
  for (const p of all) {
    try {
      const r = fs.readFileSync(`/proc/${p}/smaps_rollup`, 'utf8');
      rss += Number(/^Rss:\s+(\d+)/m.exec(r)?.[1] ?? 0);
      pss += Number(/^Pss:\s+(\d+)/m.exec(r)?.[1] ?? 0);
    } catch { /* gone */ }
  }
  return { rss, pss };
}

/** CPU time (user + system) in ms used so far by a process and its descendants, from /proc. */
export function treeCpuMs(pid: number): { node: number; tree: number } {
  const ticks = 100; // USER_HZ on Linux
  const cpu = (p: number) => {
    try {
      const s = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      return ((Number(f[11]) + Number(f[12])) * 1000) / ticks;
    } catch {
      return 0;
    }
  };
  const kids = children();
  let tree = 0;
  const todo = [pid];
  while (todo.length) {
    const p = todo.pop()!;
    tree += cpu(p);
    todo.push(...(kids.get(p) ?? []));
  }
  return { node: cpu(pid), tree };
}
