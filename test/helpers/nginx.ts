// A real nginx from Debian in front of a server, started per test on a free loopback port with a
// generated config in a temp folder (`daemon off`, a child process we kill by its pid).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { waitFor } from './wait.ts';

export const NGINX = process.env.NGINX_PATH ?? '/usr/sbin/nginx';

export interface Proxy {
  url: string;
  dir: string;
  /** The access log so far: one line per finished request, `status method uri`. */
  accessLog(): Promise<string[]>;
  close(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** `location` directives are appended to a plain proxy_pass location (buffering is nginx's default: on). */
export async function startNginx(upstream: string, locationExtra = ''): Promise<Proxy> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mailslot-nginx-'));
  const port = await freePort();
  const up = new URL(upstream);
  const conf = `
daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  log_format status_line '$status $request_method $request_uri';
  access_log ${dir}/access.log status_line;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://${up.host};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      ${locationExtra}
    }
  }
}
`;
  await fs.writeFile(path.join(dir, 'nginx.conf'), conf);
  const child: ChildProcess = spawn(NGINX, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (b) => { out += b; });
  child.stderr!.on('data', (b) => { out += b; });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(() => new Promise<boolean>((resolve) => {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${out}`);
    const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  }), { timeoutMs: 10_000, what: `nginx on ${port}` });
  return {
    url,
    dir,
    async accessLog() {
      try {
        return (await fs.readFile(path.join(dir, 'access.log'), 'utf8')).split('\n').filter(Boolean);
      } catch {
        return [];
      }
    },
    async close() {
      if (child.exitCode === null) {
        process.kill(child.pid!, 'SIGQUIT');
        const t = setTimeout(() => { if (child.exitCode === null) process.kill(child.pid!, 'SIGKILL'); }, 3000);
        await exited;
        clearTimeout(t);
      }
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}
