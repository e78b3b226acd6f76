#!/usr/bin/env node
// How much does tenantctl add on top of compose? For each round: `tenantctl provision` until it
// returns (it returns only once every service is healthy, the schema is applied and the tenant is
// recorded), then `deprovision`, then a bare `compose up -d` of the very same rendered file, .env
// and initdb scripts, timed until Docker reports every service healthy. Prints both medians and
// their ratio (target: at most 1.3). The admin database is started before timing: an operator's
// control plane is already running.
//
// Usage: npm run build && node bench/provision-vs-compose.mjs   (BENCH_ROUNDS=3 by default)
import { execa } from 'execa';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import getPort from 'get-port';

const root = path.resolve(import.meta.dirname, '..');
const cli = path.join(root, 'bin', 'tenantctl.js');
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const dir = mkdtempSync(path.join(tmpdir(), 'tenantctl-bench-'));
const prefix = `bench${Date.now().toString(36)}`;
const env = {
  ...process.env,
  TENANTCTL_CUSTOMERS_DIR: path.join(dir, 'customers'),
  TENANTCTL_STATE_DIR: path.join(dir, 'state'),
  TENANTCTL_PROJECT_PREFIX: prefix,
  TENANTCTL_ADMIN_PROJECT: `${prefix}-admin`,
  TENANTCTL_ADMIN_DB_PORT: String(await getPort()),
};
const run = (file, args, options = {}) => execa(file, args, { env, cwd: dir, timeout: 300_000, ...options });
const composeCmd = (await execa('docker', ['compose', 'version'], { reject: false })).exitCode === 0 ? ['docker', 'compose'] : ['docker-compose'];

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
  await run(composeCmd[0], [...composeCmd.slice(1), '-p', `${prefix}-admin`, '-f', path.join(root, 'docker-compose.local.yml'), 'down', '-v'], {
    reject: false,
    env: { ...env, TENANTCTL_ADMIN_DB_PASSWORD: 'unused-for-down' },
  });
  // Whatever a failed round left: everything this run created carries its unique prefix.
  const ids = async (args) => (await run('docker', args, { reject: false })).stdout.split('\n').filter(Boolean);
  const containers = await ids(['ps', '-aq', '--filter', `name=${prefix}`]);
  if (containers.length) await run('docker', ['rm', '-fv', ...containers], { reject: false });
  const networks = await ids(['network', 'ls', '-q', '--filter', `name=${prefix}`]);
  if (networks.length) await run('docker', ['network', 'rm', ...networks], { reject: false });
  const volumes = await ids(['volume', 'ls', '-q', '--filter', `name=${prefix}`]);
  if (volumes.length) await run('docker', ['volume', 'rm', '-f', ...volumes], { reject: false });
  rmSync(dir, { recursive: true, force: true });
}
