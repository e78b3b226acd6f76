// tenantctl doctor on real Docker: discrepancies made by hand (a stack nobody owns, a stack gone
// from under an active tenant, a provision killed half-way, an allocation left behind, a folder
// with no tenant) are each found with their fix; --fix repairs the safe ones and never a volume.
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
    expect(byKind).toEqual({ 'orphan-stack ghost': true, 'stray-allocation old': true, 'stuck stuck': true, 'missing-stack gone': null, 'orphan-folder zombie': null });

    const ghost = await dockerObjectsWithPrefix(`${h.prefix}-ghost`);
    expect(ghost.containers).toEqual([]);
    expect(ghost.volumes).toHaveLength(1); // never a volume
    const [stuck] = await h.adminQuery(`SELECT status, status_reason FROM admin_customers WHERE id = 'stuck'`);
    expect(stuck).toMatchObject({ status: 'failed', status_reason: expect.stringContaining('doctor') });
    expect((await dockerObjectsWithPrefix(`${h.prefix}-stuck`)).containers).toEqual([]);
    expect(await h.adminQuery(`SELECT * FROM admin_allocations WHERE customer_id IN ('old', 'stuck')`)).toEqual([]);

    const after = await h.cli(['doctor', '--json']);
    expect(kinds(after)).toEqual(['missing-stack gone', 'orphan-folder zombie', 'orphan-stack ghost']); // ghost: its volume, for the operator

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
});
