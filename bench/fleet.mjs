#!/usr/bin/env node
// What a fleet costs (issue 13), each figure beside its baseline measured in the same run:
// - provision on a remote engine over ssh beside a provision on this machine's engine (ratio);
// - `list` with tenants on three hosts (this one, one over tcp, one over ssh) beside `list` with
//   tenants on this host only.
// The remote engines are test/e2e/engines.ts's (Debian's dockerd in containers on this machine),
// so the network is a bridge: the figures are tenantctl's own cost (ssh connection, docker CLI
// round trips, file and image shipping), not a WAN's.
//
// Usage: npm run build && node bench/fleet.mjs   (BENCH_RUNS=3 provisions per host, 5 lists)
import { build } from 'esbuild';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { benchEnvironment, childRunner, cli, root } from './environment.mjs';

const runs = Number(process.env.BENCH_RUNS ?? 3);
const listRuns = 5;
const images = ['tenantctl/postgres:15', 'tenantctl/redis:7', 'tenantctl/app:latest'];

// The engines harness is TypeScript: bundled here for node, its packages left to node_modules. The
// bundle goes under the repository's node_modules/.cache: node resolves those packages from the
// bundle's own folder upwards, which a folder under /tmp does not reach. The harness finds its
// recipe (test/e2e/engines/) beside itself: that folder is named for it.
mkdirSync(path.join(root, 'node_modules', '.cache'), { recursive: true });
const bundleDir = mkdtempSync(path.join(root, 'node_modules', '.cache', 'bench-fleet-'));
await build({ entryPoints: [path.join(root, 'test/e2e/engines.ts')], bundle: true, platform: 'node', format: 'esm', packages: 'external', define: { 'import.meta.dirname': JSON.stringify(path.join(root, 'test/e2e')) }, outfile: path.join(bundleDir, 'engines.mjs'), logLevel: 'error' });
const { startEngines } = await import(path.join(bundleDir, 'engines.mjs'));

const home = 'bench-home';
const fleet = await startEngines('bench', 2, { images });
const [tcpEngine, sshEngine] = fleet.engines;
const { dir, env, cleanup } = await benchEnvironment('benchfleet');
Object.assign(env, fleet.sshEnv, { TENANTCTL_HOST_ID: home });
const children = childRunner({ env, cwd: dir, timeoutMs: 900_000 });
const run = (args) => children.run('node', [cli, ...args], { reject: false });

const ms = (x) => `${Math.round(x)} ms`;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
async function timed(args) {
  const started = performance.now();
  const result = await run(args);
  if (result.exitCode !== 0) throw new Error(`tenantctl ${args.join(' ')} exited ${result.exitCode}: ${result.stderr.split('\n').slice(-3).join(' ')}`);
  return performance.now() - started;
}

try {
  await timed(['list', '--quiet']); // starts and migrates the admin database
  await timed(['hosts', 'add', 'e-tcp', '--docker', tcpEngine.tcp, '--quiet']);
  await timed(['hosts', 'add', 'e-ssh', '--docker', sshEngine.ssh, '--quiet']);

  // 1. Provision: this machine vs an engine over ssh, alternating so drift hits both alike.
  const local = [];
  const remote = [];
  for (let i = 0; i < runs; i++) {
    local.push(await timed(['provision', `loc${i}`, '--host', home, '--quiet']));
    remote.push(await timed(['provision', `ssh${i}`, '--host', 'e-ssh', '--quiet']));
    if (i < runs - 1) {
      await timed(['deprovision', `loc${i}`, '--yes', '--quiet']);
      await timed(['deprovision', `ssh${i}`, '--yes', '--quiet']);
    }
  }

  // 2. list: tenants on this host only (the ssh one hidden by deprovisioning it), then on three.
  await timed(['deprovision', `ssh${runs - 1}`, '--yes', '--quiet']);
  const listOne = [];
  for (let i = 0; i < listRuns; i++) listOne.push(await timed(['list', '--json']));
  await timed(['provision', 'overtcp', '--host', 'e-tcp', '--quiet']);
  await timed(['provision', 'overssh', '--host', 'e-ssh', '--quiet']);
  const listThree = [];
  for (let i = 0; i < listRuns; i++) listThree.push(await timed(['list', '--json']));

  console.log(`fleet benchmark (${runs} provisions per host, ${listRuns} lists; medians)`);
  console.log(`  provision on this machine (baseline)   ${ms(median(local))}   [${local.map(ms).join(', ')}]`);
  console.log(`  provision on an engine over ssh        ${ms(median(remote))}   [${remote.map(ms).join(', ')}]`);
  console.log(`  ratio ssh / local                      ${(median(remote) / median(local)).toFixed(2)}`);
  console.log(`  list, tenants on one host (baseline)   ${ms(median(listOne))}`);
  console.log(`  list, tenants on three hosts           ${ms(median(listThree))}`);
  console.log(`  ratio three / one                      ${(median(listThree) / median(listOne)).toFixed(2)}`);
  console.log(`  engines started in ${ms(Object.values(fleet.timings).reduce((a, b) => a + b, 0))} (${JSON.stringify(fleet.timings)})`);
} finally {
  for (const id of [`loc${runs - 1}`, 'overtcp', 'overssh']) await run(['deprovision', id, '--yes', '--quiet']).catch(() => {});
  await cleanup();
  await fleet.cleanup();
  rmSync(bundleDir, { recursive: true, force: true });
}
