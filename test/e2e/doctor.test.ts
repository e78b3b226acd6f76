// tenantctl doctor on real Docker: discrepancies made by hand (a stack nobody owns, a stack gone
// from under an active tenant, a provision killed half-way, an allocation left behind, a folder
// with no tenant) are each found with their fix; --fix repairs the safe ones and never a volume.
// One engine, one name: under a renamed host id, a live tenant's stack is never taken for a move's
// leftovers, and a second name for this engine is refused (provision, hosts add).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { createHarness, dockerObjectsWithPrefix, type Harness } from './harness.js';
import { startPausedAt } from './pause.js';

let h: Harness;
const kinds = (result: { json: () => any }) => result.json().findings.map((f: any) => `${f.kind} ${f.tenant}`).sort();

beforeAll(async () => {
  h = await createHarness('doctor');
  const first = await h.cli(['doctor', '--json']);
  expect(first.exitCode, first.why).toBe(0);
  expect(first.json()).toMatchObject({ findings: [], healthy: true });

  // A stack with tenantctl's labels and no registry row, with a volume.
  await execa('docker', ['volume', 'create', '--label', 'tenantctl.managed=true', '--label', `com.docker.compose.project=${h.prefix}-ghost`, `${h.prefix}-ghost_data`]);
  await execa('docker', ['run', '-d', '--label', 'tenantctl.managed=true', '--label', `com.docker.compose.project=${h.prefix}-ghost`, '--label', 'com.docker.compose.service=app',
    '-v', `${h.prefix}-ghost_data:/data`, 'tenantctl/redis:7']);

  // An active tenant whose containers were removed behind tenantctl's back.
  const gone = await h.cli(['provision', 'gone', '--json']);
  expect(gone.exitCode, gone.why).toBe(0);
  const { containers } = await dockerObjectsWithPrefix(`${h.prefix}-gone`);
  await execa('docker', ['rm', '-f', ...containers]);

  // A provision killed while waiting for its services: status provisioning, nobody holding its lock.
  const stuck = await startPausedAt(h, ['provision', 'stuck', '--quiet'], 'provision:waiting');
  stuck.child.kill('SIGKILL');
  await stuck.child;
  stuck.resume();

  // A port held for a tenant that is gone, and a folder with no tenant.
  await h.cli(['provision', 'old', '--json']);
  await h.cli(['deprovision', 'old', '--yes']);
  await h.adminQuery(`INSERT INTO admin_allocations (host, kind, value, customer_id, purpose) SELECT host, 'port', '39999', id, 'app' FROM admin_customers WHERE id = 'old'`);
  mkdirSync(path.join(h.customersDir, 'zombie'), { recursive: true });
}, 300_000);

afterAll(async () => {
  await h?.cleanup();
}, 300_000);

describe('tenantctl doctor', () => {
  it('lists every discrepancy with the command that fixes it, changes nothing, and exits 10', async () => {
    const result = await h.cli(['doctor', '--json']);
    expect(result.exitCode, result.why).toBe(10);
    expect(kinds(result)).toEqual(['missing-stack gone', 'orphan-folder zombie', 'orphan-stack ghost', 'stray-allocation old', 'stuck stuck']);
    for (const finding of result.json().findings) expect(finding.fix).toMatch(/tenantctl|rm -r/);
    const [stuck] = await h.adminQuery(`SELECT status FROM admin_customers WHERE id = 'stuck'`);
    expect(stuck.status).toBe('provisioning'); // read-only without --fix
    const text = await h.cli(['doctor']);
    expect(text.stdout).toContain('orphan-stack ghost');
    expect(text.stderr).toContain('discrepancies left');
  }, 120_000);

  it('--fix repairs the safe ones, keeps every volume, and leaves the rest listed', async () => {
    const fixed = await h.cli(['doctor', '--fix', '--json']);
    expect(fixed.exitCode, fixed.why).toBe(10);
    const byKind = Object.fromEntries(fixed.json().findings.map((f: any) => [`${f.kind} ${f.tenant}`, f.fixed ?? null]));
    expect(byKind).toEqual({ 'orphan-stack ghost': null, 'stray-allocation old': true, 'stuck stuck': true, 'missing-stack gone': null, 'orphan-folder zombie': null });

    // No row accounts for it: it may be another registry's live tenant, so nothing of it is removed.
    const ghost = await dockerObjectsWithPrefix(`${h.prefix}-ghost`);
    expect(ghost.containers).toHaveLength(1);
    expect(ghost.volumes).toHaveLength(1);
    const [stuck] = await h.adminQuery(`SELECT status, status_reason FROM admin_customers WHERE id = 'stuck'`);
    expect(stuck).toMatchObject({ status: 'failed', status_reason: expect.stringContaining('doctor') });
    expect((await dockerObjectsWithPrefix(`${h.prefix}-stuck`)).containers).toEqual([]);
    expect(await h.adminQuery(`SELECT * FROM admin_allocations WHERE customer_id IN ('old', 'stuck')`)).toEqual([]);

    const after = await h.cli(['doctor', '--json']);
    expect(kinds(after)).toEqual(['missing-stack gone', 'orphan-folder zombie', 'orphan-stack ghost']); // ghost: for the operator to judge

    // The operator follows the listed fixes; then all is well.
    for (const args of [['deprovision', 'gone', '--yes'], ['deprovision', 'ghost', '--yes'], ['deprovision', 'stuck', '--yes']]) {
      const r = await h.cli(args);
      expect(r.exitCode, r.why).toBe(0);
    }
    rmSync(path.join(h.customersDir, 'zombie'), { recursive: true });
    const clean = await h.cli(['doctor', '--json']);
    expect(clean.exitCode, clean.why).toBe(0);
    expect(clean.json()).toMatchObject({ findings: [], healthy: true });
  }, 300_000);

  it('one engine, one name: doctor --fix under a renamed host id leaves a live tenant running; a second name is refused', async () => {
    // Review item 4: `TENANTCTL_HOST_ID=renamed tenantctl doctor --fix` took an active tenant's
    // stack for a move's leftovers (its row names the old name) and removed its 4 containers.
    const alive = await h.cli(['provision', 'alive', '--json']);
    expect(alive.exitCode, alive.why).toBe(0);
    const [{ host: name }] = await h.adminQuery(`SELECT host FROM admin_customers WHERE id = 'alive'`);
    const [{ engine_id: engineId }] = await h.adminQuery('SELECT engine_id FROM admin_hosts WHERE name = $1', [name]);
    expect(engineId).toBe((await execa('docker', ['info', '--format', '{{.ID}}'])).stdout.trim()); // recorded by the reservation
    const running = async () => (await execa('docker', ['ps', '-q', '--filter', `label=com.docker.compose.project=${h.prefix}-alive`, '--filter', 'status=running'])).stdout.split('\n').filter(Boolean).length;
    expect(await running()).toBe(4);

    const renamed = { TENANTCTL_HOST_ID: 'renamed' };
    const fixed = await h.cli(['doctor', '--fix', '--json'], { env: renamed });
    expect(await running(), fixed.stdout).toBe(4);
    expect(fixed.exitCode, fixed.why).toBe(10);
    const findings = fixed.json().findings;
    expect(findings).toEqual([expect.objectContaining({ kind: 'host-alias', host: name, fixable: false })]);
    expect(findings[0].detail).toContain(`recorded as Docker host ${name}`);
    expect(findings[0].fix).toContain(`TENANTCTL_HOST_ID=${name}`);
    expect((await h.adminQuery(`SELECT status FROM admin_customers WHERE id = 'alive'`))[0].status).toBe('active');
    expect((await h.cli(['status', 'alive'])).exitCode).toBe(0);

    // A provision under the second name is refused at its reservation, naming the engine's name, and records nothing.
    const elsewhere = await h.cli(['provision', 'twice'], { env: renamed });
    expect(elsewhere.exitCode, elsewhere.why).toBe(5);
    expect(elsewhere.stderr).toContain(`registered as Docker host ${name}`);
    expect(elsewhere.stderr).toContain(`TENANTCTL_HOST_ID=${name}`);
    expect(await h.adminQuery(`SELECT id FROM admin_customers WHERE id = 'twice'`)).toEqual([]);
    expect(await h.adminQuery(`SELECT name FROM admin_hosts WHERE name = 'renamed'`)).toEqual([]);

    // `hosts add` of this engine by another path to its socket: the same engine, refused (exit 5).
    const second = await h.cli(['hosts', 'add', 'second', '--docker', 'unix:///run/docker.sock']);
    expect(second.exitCode, second.why).toBe(5);
    expect(second.stderr).toContain(`registered as Docker host ${name}`);
    expect(await h.adminQuery(`SELECT name FROM admin_hosts WHERE name = 'second'`)).toEqual([]);

    const clean = await h.cli(['doctor', '--json']);
    expect(clean.exitCode, clean.why).toBe(0);
    expect((await h.cli(['deprovision', 'alive', '--yes'])).exitCode).toBe(0);
  }, 300_000);
});
