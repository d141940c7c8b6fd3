// `npm run bench [-- scenario …]`: starts mailslot on its own embedded PostgreSQL and runs the
// scenarios over loopback, printing a table and one JSON line per scenario.
// Scenarios: idle, unicast, fanout, publish, catchup, two-instances, floor (default: all). `floor`
// measures what this machine allows at best (bare HTTP, bare commits, in-memory fan-out) and the
// table ends with mailslot's figures as ratios to it.
// BENCH_QUICK=1 runs small sizes (a smoke run of the benchmark itself).
import { startServer, embeddedUrl, type BenchServer } from './server.ts';
import { idle } from './scenarios/idle.ts';
import { unicast } from './scenarios/unicast.ts';
import { fanout } from './scenarios/fanout.ts';
import { publishThroughput, catchup } from './scenarios/throughput.ts';
import { floorHttp, floorCommit, floorUnicast, floorFanout } from './scenarios/floor.ts';
import { round, type Result } from './common.ts';

const quick = process.env.BENCH_QUICK === '1';
const all = ['idle', 'unicast', 'fanout', 'publish', 'catchup', 'two-instances', 'floor'];
const wanted = process.argv.slice(2).length ? process.argv.slice(2) : all;
for (const w of wanted) if (!all.includes(w)) throw new Error(`unknown scenario ${w}; one of ${all.join(', ')}`);

const results: Result[] = [];
const emit = (r: Result) => {
  results.push(r);
  process.stdout.write(JSON.stringify(r) + '\n');
};
const log = (m: string) => process.stderr.write(`[bench] ${m}\n`);

async function withServer<T>(fn: (s: BenchServer) => Promise<T>): Promise<T> {
  const s = await startServer();
  try {
    return await fn(s);
  } finally {
    await s.stop();
  }
}

async function main(): Promise<void> {
  if (wanted.includes('idle')) {
    for (const n of quick ? [200] : [1000, 5000, 10000]) {
      for (const kind of ['poll', 'stream'] as const) {
        log(`idle ${kind} ×${n}`);
        emit(await idle(kind, n, quick ? 2 : 10));
      }
    }
  }
  if (wanted.includes('unicast')) {
    await withServer(async (s) => {
      for (const kind of ['poll', 'sse'] as const) {
        log(`unicast ${kind}`);
        emit(await unicast(s, { kind, waiters: quick ? 100 : 1000, rate: quick ? 100 : 500, seconds: quick ? 2 : 10 }));
      }
    });
  }
  if (wanted.includes('fanout')) {
    await withServer(async (s) => {
      log('fanout');
      emit(await fanout(s, quick ? 100 : 1000, quick ? 20 : 100, 20));
    });
  }
  if (wanted.includes('publish')) {
    await withServer(async (s) => {
      log('publish');
      emit(await publishThroughput(s, 32, quick ? 3 : 10));
    });
  }
  if (wanted.includes('catchup')) {
    await withServer(async (s) => {
      log('catchup');
      emit(await catchup(s, quick ? 2000 : 10000));
    });
  }
  if (wanted.includes('two-instances')) {
    await withServer(async (a) => {
      const b = await startServer({ databaseUrl: embeddedUrl(a.dataDir), env: { JOBS_ENABLED: 'false' } });
      try {
        log('two-instances');
        emit(await unicast(a, { kind: 'sse', waiters: quick ? 100 : 1000, rate: quick ? 100 : 500, seconds: quick ? 2 : 10, publishVia: b, label: 'two-instances-sse' }));
        emit(await unicast(a, { kind: 'poll', waiters: quick ? 100 : 1000, rate: quick ? 100 : 500, seconds: quick ? 2 : 10, publishVia: b, label: 'two-instances-poll' }));
      } finally {
        await b.stop();
      }
    });
  }
  if (wanted.includes('floor')) {
    log('floor: bare HTTP');
    emit(await floorHttp(32, quick ? 3 : 10));
    await withServer(async (s) => {
      log('floor: bare commits');
      emit(await floorCommit(s, 32, quick ? 3 : 10));
    });
    for (const kind of ['poll', 'sse'] as const) {
      log(`floor: in-memory unicast ${kind}`);
      emit(await floorUnicast(kind, quick ? 100 : 1000, quick ? 100 : 500, quick ? 2 : 10));
    }
    log('floor: in-memory fan-out');
    emit(await floorFanout(quick ? 100 : 1000, quick ? 20 : 100, 20));
  }
  printTable(results);
  printRatios(results);
}

function printTable(rs: Result[]): void {
  const rows: string[][] = [['scenario', 'figure', 'value']];
  for (const r of rs) {
    const x = r as Record<string, any>;
    if (r.scenario.startsWith('idle')) rows.push([r.scenario, `KiB per held connection at ${x.n} (node RSS; +PG tree)`, `${x.kibPerConn} (${x.treeKibPerConn}); held ${x.held}/${x.n}`]);
    else if (r.scenario.startsWith('unicast') || r.scenario.startsWith('two-instances')) rows.push([r.scenario, `latency ms p50/p90/p99/max @${x.rate}/s (publish answered p50/p99); CPU µs per message (node; node+PG)`, `${x.latencyMs.p50} / ${x.latencyMs.p90} / ${x.latencyMs.p99} / ${x.latencyMs.max} (${x.publishAnsweredMs.p50} / ${x.publishAnsweredMs.p99}); lost ${x.lost}, dup ${x.duplicated}, disorder ${x.outOfOrder}; ${x.cpuUsPerMsg.node}; ${x.cpuUsPerMsg.nodeAndPostgres}`]);
    else if (r.scenario === 'fanout') rows.push([r.scenario, `latency ms p50/p90/p99/max ×${x.subscribers}; CPU ms per message (node; node+PG)`, `${x.latencyMs.p50} / ${x.latencyMs.p90} / ${x.latencyMs.p99} / ${x.latencyMs.max}; ${x.delivered}/${x.expected} delivered, ${x.subscribersInOrder} in order; ${x.cpuMsPerMsg.node}; ${x.cpuMsPerMsg.nodeAndPostgres}`]);
    else if (r.scenario === 'publish') rows.push([r.scenario, `msgs/s, c=${x.concurrency}; p99 ms; CPU µs per publish (node; node+PG)`, `${x.msgsPerSec}; p99 ${x.latencyMs.p99}; errors ${x.errors}; ${x.cpuUsPerMsg.node}; ${x.cpuUsPerMsg.nodeAndPostgres}`]);
    else if (r.scenario === 'floor-http') rows.push([r.scenario, `bare node:http POST req/s, c=${x.concurrency}; p99 ms; CPU µs per request`, `${x.requestsPerSec}; p99 ${x.latencyMs.p99}; ${x.cpuUsPerRequest}`]);
    else if (r.scenario === 'floor-commit') rows.push([r.scenario, `one-row durable commit ms p50/p99/max; commits/s, c=${x.concurrency}`, `${x.commitMs.p50} / ${x.commitMs.p99} / ${x.commitMs.max}; ${x.commitsPerSec}/s`]);
    else if (r.scenario.startsWith('floor-unicast')) rows.push([r.scenario, `in-memory latency ms p50/p90/p99/max @${x.rate}/s; CPU µs per message`, `${x.latencyMs.p50} / ${x.latencyMs.p90} / ${x.latencyMs.p99} / ${x.latencyMs.max}; lost ${x.lost}; ${x.cpuUsPerMsg}`]);
    else if (r.scenario === 'floor-fanout') rows.push([r.scenario, `in-memory fan-out latency ms p50/p90/p99/max ×${x.subscribers}; CPU ms per message`, `${x.latencyMs.p50} / ${x.latencyMs.p90} / ${x.latencyMs.p99} / ${x.latencyMs.max}; ${x.delivered}/${x.expected} delivered, ${x.subscribersComplete} complete; ${x.cpuMsPerMsg}`]);
    else if (r.scenario === 'catchup') rows.push([r.scenario, `msgs/s of ${x.n}: poll / SSE`, `${x.poll.msgsPerSec} (${x.poll.requests} req) / ${x.sse.msgsPerSec}; complete ${x.poll.complete && x.sse.complete}`]);
  }
  const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(w[i]!)).join(' | ')} |`;
  process.stdout.write('\n' + [line(rows[0]!), `|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n') + '\n');
}

/** mailslot's figures beside the machine's floor, where both were measured in this run. */
function printRatios(rs: Result[]): void {
  const by = (name: string) => rs.find((r) => r.scenario === name) as Record<string, any> | undefined;
  const lines: string[] = [];
  const pub = by('publish'), http = by('floor-http'), commit = by('floor-commit'), fan = by('fanout'), bareFan = by('floor-fanout');
  const pct = (a: number, b: number) => `${Math.round((100 * a) / b)}%`;
  if (pub && http) lines.push(`publish: ${pub.msgsPerSec} durable msgs/s = ${pct(pub.msgsPerSec, http.requestsPerSec)} of a bare node:http server's ${http.requestsPerSec} req/s; CPU per request ${pub.cpuUsPerMsg.node} vs ${http.cpuUsPerRequest} µs (node)`);
  if (pub && commit) lines.push(`publish: ${pub.msgsPerSec} msgs/s vs ${commit.commitsPerSec} one-row commits/s from 32 clients (group commit shares the flushes)`);
  for (const kind of ['unicast-poll', 'unicast-sse']) {
    const u = by(kind);
    const bare = by(`floor-${kind}`);
    if (u && bare) lines.push(`${kind}: p50/p99 ${u.latencyMs.p50}/${u.latencyMs.p99} ms vs in-memory ${bare.latencyMs.p50}/${bare.latencyMs.p99} ms; Node CPU per message ${u.cpuUsPerMsg.node} vs ${bare.cpuUsPerMsg} µs`);
    if (u && commit) lines.push(`${kind}: p50 ${u.latencyMs.p50} ms vs one durable commit p50 ${commit.commitMs.p50} ms (p99 ${u.latencyMs.p99} vs ${commit.commitMs.p99})`);
  }
  if (fan && bareFan) lines.push(`fanout: p50/p99 ${fan.latencyMs.p50}/${fan.latencyMs.p99} ms vs in-memory ${bareFan.latencyMs.p50}/${bareFan.latencyMs.p99} ms (×${round(fan.latencyMs.p50 / bareFan.latencyMs.p50, 1)} / ×${round(fan.latencyMs.p99 / bareFan.latencyMs.p99, 1)}); Node CPU per message ${fan.cpuMsPerMsg.node} vs ${bareFan.cpuMsPerMsg} ms`);
  if (lines.length) process.stdout.write('\nBeside the floor:\n' + lines.map((l) => `  ${l}`).join('\n') + '\n');
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
