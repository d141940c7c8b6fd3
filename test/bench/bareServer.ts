// The floor: a bare node:http server that does no work beyond HTTP — what one Node process on this
// machine can do at best with the same clients. POST /publish reads and parses the JSON body and
// answers 201; if streams are held, it first writes the body as one SSE event to every one of them
// (an in-memory fan-out, like Nchan's). GET /stream holds an SSE stream. Nothing is stored.
// Run by the `floor` scenario as its own process; prints `listening <port>`.
import http from 'node:http';

const streams = new Set<http.ServerResponse>();
let seq = 0;

const server = http.createServer((req, res) => {
  req.socket.setNoDelay(true);
  if (req.method === 'GET' && req.url === '/stream') {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write('event: ready\ndata: {}\n\n');
    streams.add(res);
    res.on('close', () => streams.delete(res));
    return;
  }
  if (req.method !== 'POST' || req.url !== '/publish') {
    res.writeHead(404).end();
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const payload: unknown = JSON.parse(body);
    const id = ++seq;
    if (streams.size > 0) {
      const event = Buffer.from(`id: ${id}\nevent: message\ndata: ${JSON.stringify({ seq: id, payload })}\n\n`);
      for (const s of streams) s.write(event);
    }
    const out = JSON.stringify({ id: String(id), seqs: {}, duplicate: false });
    res.writeHead(201, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) }).end(out);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
