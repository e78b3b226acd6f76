// Growth on one host, with the default template (app, worker, PostgreSQL, Redis per tenant): ten
// `tenantctl provision` processes started at once never share a port or a subnet; a --file batch at
// the default concurrency brings the host past 30 tenant networks on a Docker daemon with default
// settings (whose default address pools stop at about 30 networks), with one failing tenant that
// does not stop the others; the idle cost of all of them is measured and printed; then all go away.
//
// TENANTCTL_TEST_SCALE_TENANTS sets the total number of tenants (default 32, at least 20: ten at
// once, the rest in the batch). 32 takes about 6 to 8 minutes on 2 cores.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { execa } from 'execa';
import { containerOf, createHarness, dockerObjectsWithPrefix, type CliResult, type Harness } from './harness.js';

let h: Harness;
// Generous: ten stacks starting at once on two cores take a while; the deadline is about progress.
const env = { TENANTCTL_HEALTH_DEADLINE: '300' };
const total = Math.max(20, Number(process.env.TENANTCTL_TEST_SCALE_TENANTS) || 32);
const firstTen = Array.from({ length: 10 }, (_, i) => `conc${i}`);
const bulk = Array.from({ length: total - 10 }, (_, i) => `bulk${i}`);
const minutes = (n: number) => n * 60_000;

beforeAll(async () => {
  h = await createHarness('scale');
  const started = await h.cli(['list'], { env }); // start the admin database once, outside the race below
  if (started.exitCode !== 0) throw new Error(`starting the admin database failed:\n${started.why}`);
}, 120_000);

afterAll(async () => {
  await h?.cleanup();
}, minutes(5));

const listed = async () => {
  const list = await h.cli(['list', '--json'], { env });
  expect(list.exitCode, list.why).toBe(0);
  return list.json() as any[];
};
const tenantNetworks = async () =>
  [...(await dockerObjectsWithPrefix(`${h.prefix}-conc`)).networks, ...(await dockerObjectsWithPrefix(`${h.prefix}-bulk`)).networks];

describe('ten provision processes at once', () => {
  let results: CliResult[] = [];
  // Runs them; the tests judge them, so one failed provision is one failed test with its reason.
  beforeAll(async () => {
    const started = Date.now();
    results = await Promise.all(firstTen.map((id) => h.cli(['provision', id, '--json', '--quiet'], { env, timeoutMs: minutes(10) })));
    console.log(`scale: 10 provisions at once took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }, minutes(11));

  it('10 of 10 are active', async () => {
    const failed = results.filter((r) => r.exitCode !== 0);
    expect(failed.length, failed.map((r) => r.why).join('\n')).toBe(0);
    const rows = await h.adminQuery(`SELECT count(*)::int AS n FROM admin_customers WHERE status = 'active' AND id LIKE 'conc%'`);
    expect(rows[0].n).toBe(10);
  });

  it('no two share a port or a subnet', async () => {
    const tenants = results.filter((r) => r.exitCode === 0).map((r) => r.json());
    expect(tenants.length).toBeGreaterThan(1);
    const ports = tenants.flatMap((t) => [t.ports.app, t.ports.db, t.ports.redis]);
    expect(new Set(ports).size).toBe(3 * tenants.length);
    expect(new Set(tenants.map((t) => t.subnet)).size).toBe(tenants.length);
    const allocations = await h.adminQuery(`SELECT kind, count(*)::int AS n FROM admin_allocations WHERE customer_id LIKE 'conc%' GROUP BY kind ORDER BY kind`);
    expect(allocations).toEqual([{ kind: 'port', n: 3 * tenants.length }, { kind: 'subnet', n: tenants.length }]);
  });
});

describe(`a --file batch brings the host to ${total} tenants`, () => {
  let result: CliResult;
  let taken = 0;
  beforeAll(async () => {
    const blocker = net.createServer();
    taken = await new Promise((resolve) => blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as net.AddressInfo).port)));
    const file = path.join(h.dir, 'tenants.yaml');
    writeFileSync(file, `tenants:\n${bulk.map((id) => `  - id: ${id}\n    name: "Bulk ${id}"\n    plan: starter`).join('\n')}\n  - id: doomed\n    port: ${taken}\n`);
    const started = Date.now();
    try {
      // The default concurrency: what tenantctl picks for this host.
      result = await h.cli(['provision', '--file', file, '--json'], { env, timeoutMs: minutes(20) });
    } finally {
      blocker.close();
    }
    console.log(`scale: a batch of ${bulk.length + 1} at the default concurrency took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }, minutes(21));

  it('reports the failed tenant, and the rest stand (exit 9)', () => {
    expect(result.exitCode, result.why).toBe(9);
    const batch = result.json();
    expect(batch.summary, result.why).toMatchObject({ total: bulk.length + 1, active: bulk.length, failed: 1 });
    expect(batch.tenants.find((t: any) => t.id === 'doomed')).toMatchObject({
      ok: false,
      error: { code: 'conflict', message: `app port: port ${taken} is already in use on this host` },
    });
  });

  it(`runs more than 30 tenant networks, one per tenant, every tenant running`, async () => {
    const active = (await listed()).filter((t) => t.status === 'active');
    expect(active.filter((t) => t.live !== 'running').map((t) => `${t.id}: ${t.live}`)).toEqual([]);
    expect(active).toHaveLength(total);
    expect(new Set(active.map((t) => t.subnet)).size).toBe(total);
    const networks = await tenantNetworks();
    expect(networks).toHaveLength(total);
    expect(networks.length).toBeGreaterThan(30); // beyond Docker's ~30 default address pools
  });

  it('measures the idle cost of all tenants: host CPU and the tenants\' containers over 20 s', async () => {
    const ids = await tenantContainers(h.prefix);
    expect(ids.length).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 10_000)); // let the last start-ups settle
    const windowMs = 20_000;
    const host0 = hostCpu();
    const cpu0 = ids.map(containerCpuNs);
    const t0 = process.hrtime.bigint();
    await new Promise((resolve) => setTimeout(resolve, windowMs));
    const elapsedNs = Number(process.hrtime.bigint() - t0);
    const cpu1 = ids.map(containerCpuNs);
    const host1 = hostCpu();
    const memory = ids.map(containerMemoryBytes).filter((m): m is number => m !== undefined).reduce((a, b) => a + b, 0);

    const tenants = Math.round(ids.length / 4);
    const hostPct = (100 * (host1.busy - host0.busy)) / (host1.total - host0.total);
    const measured = cpu0.every((v) => v !== undefined) && cpu1.every((v) => v !== undefined);
    const containersNs = measured ? cpu1.reduce((sum, v, i) => sum + (v! - cpu0[i]!), 0) : NaN;
    const ofOneCore = (100 * containersNs) / elapsedNs;
    console.log(
      `scale: ${tenants} idle tenants (${ids.length} containers), host CPU ${hostPct.toFixed(1)}% of ${host1.cores} cores ` +
        `(everything on the host, other jobs included), tenants' containers ${measured ? `${ofOneCore.toFixed(1)}% of one core` : 'n/a (no cgroup accounting found)'}` +
        `${measured ? ` (${(ofOneCore / tenants).toFixed(2)}% per tenant)` : ''}, memory ${(memory / 2 ** 20).toFixed(0)} MiB (${(memory / 2 ** 20 / tenants).toFixed(0)} MiB per tenant), over ${(elapsedNs / 1e9).toFixed(1)} s`,
    );
    if (measured) expect(ofOneCore).toBeLessThan(50); // generous: the target is under 1% per tenant
  }, minutes(2));
});

describe('drift', () => {
  it('a stopped stack is listed as stopped while the registry says active', async () => {
    const running = (await listed()).filter((t) => t.status === 'active' && t.live === 'running');
    expect(running.length).toBeGreaterThanOrEqual(2);
    const [stopped, other] = running;
    await execa('docker', ['stop', await containerOf(stopped.composeProject ?? `${h.prefix}-${stopped.id}`, 'redis')], { timeout: 60_000 });
    const after = await listed();
    expect(after.find((t) => t.id === stopped.id)).toMatchObject({ status: 'active', live: 'stopped' });
    expect(after.find((t) => t.id === other.id)).toMatchObject({ status: 'active', live: 'running' });
  }, minutes(2));
});

describe('removing them all', () => {
  it('deprovisions every tenant on record (default concurrency) and leaves nothing', async () => {
    const onRecord = (await listed()).filter((t) => t.status !== 'deprovisioned' && t.status !== 'failed').map((t) => t.id);
    expect(onRecord.length).toBeGreaterThan(0);
    const started = Date.now();
    const result = await h.cli(['deprovision', ...onRecord, '--yes', '--json'], { env, timeoutMs: minutes(15) });
    console.log(`scale: deprovisioning ${onRecord.length} took ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(result.exitCode, result.why).toBe(0);
    expect(result.json().summary).toMatchObject({ total: onRecord.length, deprovisioned: onRecord.length, failed: 0 });
    for (const group of ['conc', 'bulk', 'doomed']) {
      expect(await dockerObjectsWithPrefix(`${h.prefix}-${group}`)).toEqual({ containers: [], networks: [], volumes: [] });
    }
    expect(await h.adminQuery('SELECT * FROM admin_allocations')).toEqual([]);
  }, minutes(16));
});

// ---- idle cost -------------------------------------------------------------------------------

/** Full ids of the running containers of this file's tenants (not its admin database). */
async function tenantContainers(prefix: string): Promise<string[]> {
  const { stdout } = await execa('docker', ['ps', '--no-trunc', '--filter', 'label=tenantctl.managed=true', '--format', '{{.ID}} {{.Label "com.docker.compose.project"}}'], { timeout: 60_000 });
  return stdout.split('\n').filter(Boolean).map((l) => l.split(' ')).filter(([, project]) => project?.startsWith(`${prefix}-`)).map(([id]) => id!);
}

/** All CPUs' time from /proc/stat, in jiffies: busy (not idle or iowait) and total. */
function hostCpu(): { busy: number; total: number; cores: number } {
  const lines = readFileSync('/proc/stat', 'utf8').split('\n');
  const fields = lines[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0); // user..steal; guest is already in user
  const idle = fields[3]! + fields[4]!;
  return { busy: total - idle, total, cores: lines.filter((l) => /^cpu\d+ /.test(l)).length };
}

const readOr = (file: string): string | undefined => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
};

/** A container's CPU time in ns from the kernel's cgroup accounting (v1 cgroupfs or systemd, or v2). */
function containerCpuNs(id: string): number | undefined {
  for (const file of [`/sys/fs/cgroup/cpuacct/docker/${id}/cpuacct.usage`, `/sys/fs/cgroup/cpu,cpuacct/docker/${id}/cpuacct.usage`, `/sys/fs/cgroup/cpuacct/system.slice/docker-${id}.scope/cpuacct.usage`]) {
    const v1 = readOr(file);
    if (v1 !== undefined) return Number(v1.trim());
  }
  for (const file of [`/sys/fs/cgroup/system.slice/docker-${id}.scope/cpu.stat`, `/sys/fs/cgroup/docker/${id}/cpu.stat`]) {
    const usage = /usage_usec (\d+)/.exec(readOr(file) ?? '');
    if (usage) return Number(usage[1]) * 1000;
  }
  return undefined;
}

/** A container's memory as `docker stats` counts it: usage without inactive page cache (cgroup v1 or v2). */
function containerMemoryBytes(id: string): number | undefined {
  for (const dir of [`/sys/fs/cgroup/memory/docker/${id}`, `/sys/fs/cgroup/memory/system.slice/docker-${id}.scope`]) {
    const usage = readOr(`${dir}/memory.usage_in_bytes`);
    if (usage !== undefined) return Number(usage.trim()) - Number(/total_inactive_file (\d+)/.exec(readOr(`${dir}/memory.stat`) ?? '')?.[1] ?? 0);
  }
  for (const dir of [`/sys/fs/cgroup/system.slice/docker-${id}.scope`, `/sys/fs/cgroup/docker/${id}`]) {
    const usage = readOr(`${dir}/memory.current`);
    if (usage !== undefined) return Number(usage.trim()) - Number(/inactive_file (\d+)/.exec(readOr(`${dir}/memory.stat`) ?? '')?.[1] ?? 0);
  }
  return undefined;
}
