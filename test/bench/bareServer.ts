// The floor: a bare node:http server that does no work beyond HTTP — what one Node process on this
// machine can do at best with the same clients. Nothing is stored, nothing is checked.
//   GET  /stream[?u=user]   holds an SSE stream (for that user, or for every message without `to`)
//   GET  /poll?u=user       holds a long poll until a message for the user (25 s: 204); a message
//                           for a user with no poll held at that moment is dropped (the scenario
//                           reports it as lost)
//   POST /publish           reads and parses the JSON body; `{"to":[user…]}` goes to those users'
//                           polls and streams, any other body as one SSE event to every stream
//                           (an in-memory fan-out, like Nchan's); answers 201
// Run by the `floor` scenario as its own process; prints `listening <port>`.
import http from 'node:http';

const everyone = new Set<http.ServerResponse>();
const streams = new Map<string, Set<http.ServerResponse>>();
const polls = new Map<string, http.ServerResponse>();
let seq = 0;

function hold(res: http.ServerResponse, url: URL): void {
  const user = url.searchParams.get('u');
  if (url.pathname === '/stream') {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write('event: ready\ndata: {}\n\n');
    const set = user === null ? everyone : streams.get(user) ?? streams.set(user, new Set()).get(user)!;
    set.add(res);
    res.on('close', () => set.delete(res));
    return;
  }
  if (url.pathname === '/poll' && user !== null) {
    polls.set(user, res);
    const timer = setTimeout(() => { polls.delete(user); res.writeHead(204).end(); }, 25_000);
    res.on('close', () => { clearTimeout(timer); if (polls.get(user) === res) polls.delete(user); });
    return;
  }
  res.writeHead(404).end();
}

function publish(body: string): void {
  const msg = JSON.parse(body) as { to?: string[]; payload?: unknown };
  const id = ++seq;
  if (!Array.isArray(msg.to)) {
    const event = Buffer.from(`id: ${id}\nevent: message\ndata: ${JSON.stringify({ seq: id, payload: msg })}\n\n`);
    for (const s of everyone) s.write(event);
    return;
  }
  const json = JSON.stringify({ seq: id, payload: msg.payload });
  for (const user of msg.to) {
    for (const s of streams.get(user) ?? []) s.write(`id: ${id}\nevent: message\ndata: ${json}\n\n`);
    const p = polls.get(user);
    if (p) {
      polls.delete(user);
      const out = `{"messages":[${json}],"next":${id}}`;
      p.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) }).end(out);
    }
  }
}

const server = http.createServer((req, res) => {
  req.socket.setNoDelay(true);
  const url = new URL(req.url ?? '/', 'http://x');
  if (req.method === 'GET') return hold(res, url);
  if (req.method !== 'POST' || url.pathname !== '/publish') {
    res.writeHead(404).end();
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    publish(Buffer.concat(chunks).toString('utf8'));
    const out = JSON.stringify({ id: String(seq), seqs: {}, duplicate: false });
    res.writeHead(201, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) }).end(out);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
