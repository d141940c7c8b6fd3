// idle: hold N long polls (or N streams) for a while; the server's RSS growth per held connection.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Conn, SseConn } from '../client.ts';
import { startServer, rssKiB, treeMemKiB, type ServerOptions } from '../server.ts';
import { mintTokens, sleep, round, type Result } from '../common.ts';

export async function idle(kind: 'poll' | 'stream', n: number, holdS: number, so: ServerOptions = {}): Promise<Result> {
  // Tokens are minted by a first process; the measured one starts fresh on the same database, so
  // heap pages left free by minting cannot hide what the held connections cost.
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailslot-idle-'));
  const users = Array.from({ length: n }, (_, i) => `idle${i}`);
  const minter = await startServer({ ...so, dataDir });
  const tokens = await mintTokens(minter, users);
  await minter.stop();
  const s = await startServer({ ...so, dataDir });
  try {
    await sleep(1000);
    const before = rssKiB(s.pid);
    const treeBefore = treeMemKiB(s.pid);
    let early = 0;
    let opened = 0;
    const conns: { close(): void; status?: number; closed?: boolean }[] = [];
    const host = s.url.hostname;
    const port = Number(s.url.port);
    for (let i = 0; i < n; i++) {
      const auth = { authorization: `Bearer ${tokens.get(users[i]!)}` };
      if (kind === 'poll') {
        const c = new Conn(host, port);
        c.request('GET', `/v1/poll?since=0&timeout=${holdS + 60}`, auth).then(() => { early++; }, () => { early++; });
        conns.push(c);
      } else {
        const c = new SseConn(host, port, '/v1/stream?since=0', auth, (e) => { if (e.event === 'ready') opened++; });
        conns.push(c);
      }
      if (i % 500 === 499) await sleep(20); // do not overflow the listen backlog
    }
    // Streams are held once their `ready` event arrived; give slow opens time before the hold starts.
    const openBy = Date.now() + 30_000;
    while (kind === 'stream' && opened < n && Date.now() < openBy) await sleep(100);
    const t0 = Date.now();
    let peak = 0;
    let peakTree = { rss: 0, pss: 0 };
    while (Date.now() - t0 < holdS * 1000) {
      await sleep(500);
      peak = Math.max(peak, rssKiB(s.pid));
      const t = treeMemKiB(s.pid);
      if (t.rss > peakTree.rss) peakTree = t;
    }
    const held = kind === 'poll' ? n - early : opened;
    // Why streams were not held: their HTTP status (0: no answer yet) and whether the socket closed.
    const notHeld: Record<string, number> = {};
    if (kind === 'stream' && held < n) {
      for (const c of conns) if (c.status !== 200) { const k = `${c.status}${c.closed ? '/closed' : ''}`; notHeld[k] = (notHeld[k] ?? 0) + 1; }
    }
    for (const c of conns) c.close();
    return {
      scenario: `idle-${kind}`, n, held, failures: n - held, ...(n > held && kind === 'stream' ? { notHeld } : {}), holdS,
      rssBeforeMiB: round(before / 1024), rssHeldMiB: round(peak / 1024),
      kibPerConn: round((peak - before) / n), treeKibPerConn: round((peakTree.rss - treeBefore.rss) / n), treePssKibPerConn: round((peakTree.pss - treeBefore.pss) / n),
    };
  } finally {
    await s.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
