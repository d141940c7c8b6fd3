// `npm start`: read the config, start the service, make the demo tenant on first start, print how
// to use it, and shut down in order on SIGINT/SIGTERM (polls answered, streams closed, database
// stopped). A second signal exits at once.
import fs from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from './config.ts';
import { startService, createLogger } from './service.ts';
import { createTenant, findTenant } from './services/credentials.ts';

async function demoKey(service: Awaited<ReturnType<typeof startService>>, dataDir: string, maxTtlS: number): Promise<string | null> {
  const file = path.join(dataDir, 'demo-key');
  const made = await createTenant(service.deps.db, 'demo', maxTtlS);
  if (made) {
    await fs.mkdir(dataDir, { recursive: true });
    await fs.writeFile(file, made.adminKey + '\n', { mode: 0o600 });
    return made.adminKey;
  }
  if (!(await findTenant(service.deps.db, 'demo'))) return null;
  try {
    return (await fs.readFile(file, 'utf8')).trim();
  } catch {
    return null; // made elsewhere; only its hash is stored
  }
}

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  const service = await startService(config, log);

  if (!config.demoTenant) process.stdout.write(`mailslot is running at ${service.url}\n`);
  if (config.demoTenant) {
    const key = await demoKey(service, config.dataDir, config.messageTtlMaxS);
    const u = service.url;
    process.stdout.write([
      '',
      `  mailslot is running at ${u}`,
      // The key rides in the URL fragment, which browsers never send to a server (see public/demo.js).
      `  demo page:        ${u}/${key ? `#key=${key}` : ''}`,
      key ? `  demo admin key:   ${key}` : '  demo tenant exists; its admin key is not stored here (npm run mailslot -- key create demo)',
      '',
      '  Try it (a second terminal):',
      `    KEY=${key ?? '<admin key>'}`,
      `    TOKEN=$(curl -s -X POST ${u}/v1/tokens -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -d '{"user":"bob"}' | sed 's/.*"token":"\\([^"]*\\)".*/\\1/')`,
      `    curl -s -X POST ${u}/v1/messages -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -d '{"to":["bob"],"payload":{"text":"hi"}}'`,
      `    curl -s "${u}/v1/poll?since=0&timeout=25" -H "Authorization: Bearer $TOKEN"`,
      '',
    ].join('\n') + '\n');
  }

  log.info({ url: service.url, embedded: service.embedded !== null }, 'mailslot listening');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) process.exit(130);
    stopping = true;
    log.info({ signal }, 'shutting down');
    service.close().then(() => process.exit(0), (err) => {
      log.error({ err }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  // A background failure is logged, never fatal: the process keeps serving.
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));
}

main().catch((err) => {
  process.stderr.write(`mailslot failed to start: ${(err as Error)?.stack ?? err}\n`);
  process.exit(1);
});
