// The container health check (bundled to dist/app/healthcheck.cjs). It runs every second, so it
// imports nothing beyond Node built-ins and exits as soon as it knows.
//   MODE=web:    exit 0 only if GET http://127.0.0.1:$PORT/api/health answers 200 within 2 s.
//   MODE=worker: exit 0 only if the heartbeat file is younger than 5 s and says ok:true.
// Whatever it prints ends up in `docker inspect` (.State.Health.Log): keep it short.
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { heartbeatFile, heartbeatMaxAgeMs, type Heartbeat } from './heartbeat.js';

const timeoutMs = 2_000;

function finish(healthy: boolean, message: string): never {
  (healthy ? process.stdout : process.stderr).write(message.slice(0, 300) + '\n');
  process.exit(healthy ? 0 : 1);
}

function checkWorker(): never {
  let beat: Partial<Heartbeat>;
  try {
    beat = JSON.parse(readFileSync(heartbeatFile, 'utf8')) as Partial<Heartbeat>;
  } catch (error) {
    finish(false, `no readable heartbeat: ${(error as Error).message}`);
  }
  const age = typeof beat.at === 'number' ? Date.now() - beat.at : NaN;
  if (!(age >= -heartbeatMaxAgeMs && age < heartbeatMaxAgeMs)) finish(false, `heartbeat is stale (age ${age} ms)`);
  if (beat.ok !== true) finish(false, `worker unhealthy: ${beat.error ?? 'ok is not true'}`);
  finish(true, `ok (heartbeat ${age} ms old)`);
}

function checkWeb(): void {
  const port = Number(process.env.PORT || 3000);
  setTimeout(() => finish(false, `no answer from /api/health within ${timeoutMs} ms`), timeoutMs);
  const req = http.get({ host: '127.0.0.1', port, path: '/api/health', agent: false }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      if (body.length < 300) body += chunk;
    });
    res.on('end', () => finish(res.statusCode === 200, `${res.statusCode} ${body.trim()}`));
    res.on('error', (error) => finish(false, error.message));
  });
  req.on('error', (error) => finish(false, `GET /api/health: ${error.message}`));
}

if ((process.env.MODE || 'web') === 'worker') checkWorker();
else checkWeb();
