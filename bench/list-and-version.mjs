#!/usr/bin/env node
// Start-up costs an operator and CI feel on every call: `tenantctl list --json` with 1,000 tenants
// in the registry (target < 0.5 s) and `tenantctl --version` (target < 0.15 s), each printed beside
// `node -e 0` measured in the same run, so the figures can be read on any machine. The 1,000 rows
// are on this machine's engine (the host tenantctl runs beside), so `list` asks Docker for their
// live states as it does for real tenants (each comes back "missing": no stack carries its name);
// the bench checks that it did. Exit 1 when a target is missed.
//
// Usage: npm run build && node bench/list-and-version.mjs   (BENCH_RUNS=7 by default)
import { execa } from 'execa';
import { adminDbConfig, benchEnvironment, cli, pgClient } from './environment.mjs';

const runs = Number(process.env.BENCH_RUNS ?? 7);
const tenants = 1000;
const { dir, prefix, env, cleanup } = await benchEnvironment('benchlist');
// This run's name for the local engine: the rows below are on it.
env.TENANTCTL_HOST_ID = `${prefix}-host`;

async function time(file, args) {
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await execa(file, args, { env, cwd: dir, timeout: 60_000 });
    samples.push(performance.now() - started);
  }
  samples.sort((a, b) => a - b);
  return { median: samples[Math.floor(samples.length / 2)], min: samples[0] };
}
const ms = (x) => `${x.toFixed(0)} ms`;

try {
  await execa('node', [cli, 'list', '--quiet'], { env, cwd: dir, timeout: 300_000 }); // starts and migrates the admin database
  const client = pgClient(adminDbConfig(env), 'list bench\'s admin database client');
  await client.connect();
  await client.query(
    `INSERT INTO admin_customers (id, name, plan, status, host, compose_project, app_port, db_port, redis_port, subnet, app_url)
     SELECT 'bench-' || n, 'Bench tenant ' || n, 'standard', 'active', $3, $1 || '-bench-' || n,
            10000 + n, 20000 + n, 30000 + n, ('10.200.' || (n / 16) || '.' || ((n % 16) * 16) || '/28')::cidr, 'http://127.0.0.1:' || (10000 + n)
     FROM generate_series(1, $2::int) AS n`,
    [prefix, tenants, env.TENANTCTL_HOST_ID],
  );
  await client.end();

  const listed = JSON.parse((await execa('node', [cli, 'list', '--json'], { env, cwd: dir })).stdout);
  if (listed.length !== tenants) throw new Error(`list returned ${listed.length} tenants, expected ${tenants}`);
  const asked = listed.filter((t) => t.live === 'missing').length;
  if (asked !== tenants) throw new Error(`list asked Docker for ${asked} of ${tenants} tenants' live states (the others: ${[...new Set(listed.map((t) => t.live))].join(', ')})`);

  const baseline = await time('node', ['-e', '0']);
  const list = await time('node', [cli, 'list', '--json']);
  const version = await time('node', [cli, '--version']);
  console.log(`node -e 0:                          median ${ms(baseline.median)} (min ${ms(baseline.min)})`);
  console.log(`tenantctl list --json (${tenants} tenants): median ${ms(list.median)} (min ${ms(list.min)}); target < 500 ms`);
  console.log(`tenantctl --version:                median ${ms(version.median)} (min ${ms(version.min)}); target < 150 ms`);
  if (list.median >= 500 || version.median >= 150) {
    console.log('target missed');
    process.exitCode = 1;
  }
} finally {
  await cleanup();
}
