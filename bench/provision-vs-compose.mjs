#!/usr/bin/env node
// How much does tenantctl add on top of compose? For each round: `tenantctl provision` until it
// returns (it returns only once every service is healthy, the schema is applied and the tenant is
// recorded), then `deprovision`, then a bare `compose up -d` of the very same rendered file, .env
// and initdb scripts, timed until Docker reports every service healthy. Prints both medians and
// their ratio (target: at most 1.3). The admin database is started before timing: an operator's
// control plane is already running.
//
// Usage: npm run build && node bench/provision-vs-compose.mjs   (BENCH_ROUNDS=3 by default)
import { cpSync } from 'node:fs';
import path from 'node:path';
import { benchEnvironment, cli } from './environment.mjs';

const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const { dir, prefix, run, composeCmd, cleanup } = await benchEnvironment('bench');

async function waitHealthy(project, services) {
  for (;;) {
    const ids = (await run('docker', ['ps', '-q', '--filter', `label=com.docker.compose.project=${project}`])).stdout.split('\n').filter(Boolean);
    if (ids.length === services) {
      const states = JSON.parse((await run('docker', ['inspect', ...ids])).stdout);
      if (states.every((c) => c.State.Status === 'running' && (!c.State.Health || c.State.Health.Status === 'healthy'))) return;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const seconds = (ms) => `${(ms / 1000).toFixed(2)} s`;

try {
  await run('node', [cli, 'list', '--quiet']); // starts the admin database, outside the timing
  const provisionTimes = [];
  const composeTimes = [];
  for (let round = 1; round <= rounds; round++) {
    const id = `bench${round}`;
    let started = performance.now();
    await run('node', [cli, 'provision', id, '--quiet']);
    provisionTimes.push(performance.now() - started);

    // Keep the rendered stack, remove the tenant, then bring the same files up with compose alone.
    const saved = path.join(dir, `saved-${id}`);
    cpSync(path.join(dir, 'customers', id), saved, { recursive: true });
    await run('node', [cli, 'deprovision', id, '--yes', '--quiet']);
    const project = `${prefix}-bare${round}`;
    const base = [...composeCmd.slice(1), '-p', project, '-f', path.join(saved, 'docker-compose.yml'), '--env-file', path.join(saved, '.env')];
    started = performance.now();
    await run(composeCmd[0], [...base, 'up', '-d']);
    await waitHealthy(project, 4);
    composeTimes.push(performance.now() - started);
    await run(composeCmd[0], [...base, 'down', '-v', '--remove-orphans']);
    console.log(`round ${round}: tenantctl provision ${seconds(provisionTimes.at(-1))}, bare compose up ${seconds(composeTimes.at(-1))}`);
  }
  const p = median(provisionTimes);
  const c = median(composeTimes);
  console.log(`median over ${rounds} rounds: tenantctl provision to healthy ${seconds(p)}; bare ${composeCmd.join(' ')} up to healthy ${seconds(c)}; ratio ${(p / c).toFixed(2)} (target <= 1.30)`);
} finally {
  await cleanup();
}
