// Upgrades on real Docker: a new app image and a new plan brought up with only what changed
// recreated and the data kept; an image that never becomes ready rolled back to the last good state
// (exit 7, "rolled back to"), ready again on the image id it ran; several tenants: the canary's
// failure stops the batch before any other tenant is touched, --continue goes on. A tenant whose
// services start as root (provisioned before the shipped templates named each service's user)
// gets its secret copies and non-root services from its next upgrade, its data kept.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { containerOf, createHarness, inspect, type Harness } from './harness.js';

let h: Harness;
const run = Date.now().toString(36);
const label = `tenantctl.test=upgrade-${run}`;
const goodImage = `tctupgrade-good:${run}`;
const brokenImage = `tctupgrade-broken:${run}`;

async function build(tag: string, dockerfile: string): Promise<string> {
  await execa('docker', ['build', '-q', '--label', label, '-t', tag, '-'], { input: dockerfile, timeout: 300_000 });
  return (await execa('docker', ['image', 'inspect', '--format', '{{.Id}}', tag])).stdout.trim();
}

let goodId = '';

/**
 * The shipped crm template as it was before its services named their users: no `user:`, each
 * service starting as root with the capabilities its entrypoint needs to copy the operator's
 * secret files into a /run/tenantctl tmpfs and drop to its user. An operator template ("legacy").
 */
const shippedCrm = path.resolve(import.meta.dirname, '../../templates/crm');
const templatesDir = mkdtempSync(path.join(tmpdir(), 'tenantctl-upgrade-templates-'));
function writeLegacyTemplate(): void {
  cpSync(shippedCrm, path.join(templatesDir, 'legacy'), { recursive: true });
  const file = path.join(templatesDir, 'legacy', 'docker-compose.tenant.yml');
  const text = readFileSync(file, 'utf8')
    .replace(/^ {4}user: "\d+:\d+"\n/gm, '')
    .replace(/^ {4}<<: \*hardening\n/gm, '    <<: *hardening\n    cap_add: [CHOWN, DAC_OVERRIDE, FOWNER, SETUID, SETGID]\n')
    .replace(/^ {4}tmpfs:( &app-tmpfs)?\n/gm, (line) => `${line}      - /run/tenantctl:mode=0700,size=64k\n`)
    .replace(/^ {6}- \/run\/tenantctl:uid=\d+,gid=\d+,mode=0700,size=64k\n/gm, '');
  if (/user: "/.test(text) || !text.includes('cap_add')) throw new Error('the legacy template was not made: the shipped one changed shape');
  writeFileSync(file, text);
}

beforeAll(async () => {
  h = await createHarness('upgrade', {
    TENANTCTL_HEALTH_DEADLINE: '60',
    TENANTCTL_SUBNET_POOL: `10.${200 + Math.floor(Math.random() * 50)}.0.0/16`,
    TENANTCTL_APP_PORTS: '4800-4849', TENANTCTL_DB_PORTS: '5800-5849', TENANTCTL_REDIS_PORTS: '6800-6849',
    TENANTCTL_TEMPLATES_DIR: templatesDir,
  });
  writeLegacyTemplate();
  goodId = await build(goodImage, `FROM tenantctl/app:latest\nLABEL tenantctl.upgrade-test="good ${run}"\n`);
  await build(brokenImage, `FROM tenantctl/app:latest\nLABEL tenantctl.upgrade-test="broken ${run}"\nENTRYPOINT ["sh", "-c", "echo this build is broken >&2; exit 3"]\n`);
}, 600_000);

afterAll(async () => {
  await h?.cleanup();
  rmSync(templatesDir, { recursive: true, force: true });
  const ids = (await execa('docker', ['image', 'ls', '-q', '--filter', `label=${label}`], { reject: false })).stdout.split('\n').filter(Boolean);
  const pins = (await execa('docker', ['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}', 'tenantctl-rollback'], { reject: false })).stdout.split('\n').filter((t) => t.startsWith(`tenantctl-rollback:${h.prefix}-`));
  await execa('docker', ['rmi', '-f', goodImage, brokenImage, ...pins, ...ids], { reject: false });
});

const project = (id: string) => `${h.prefix}-${id}`;

async function psql(id: string, sql: string): Promise<string> {
  const db = await containerOf(project(id), 'db');
  return (await execa('docker', ['exec', db, 'psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-U', 'tenant_owner', '-d', 'tenant', '-c', sql], { timeout: 60_000 })).stdout.trim();
}

type Service = 'app' | 'worker' | 'db' | 'redis';
async function containers(id: string): Promise<Record<Service, { id: string; image: string }>> {
  const out = {} as Record<Service, { id: string; image: string }>;
  for (const service of ['app', 'worker', 'db', 'redis'] as const) {
    const c = await inspect(await containerOf(project(id), service));
    out[service] = { id: c.Id, image: c.Image };
  }
  return out;
}

describe('upgrade', () => {
  it('provisions two tenants with data', async () => {
    const r = await h.cli(['provision', 'u1', 'u2', '--json']);
    expect(r.exitCode, r.why).toBe(0);
    await psql('u1', "INSERT INTO crm.organizations (name, slug) VALUES ('Kept Org', 'kept-org')");
  }, 400_000);

  it('upgrades the app image: only app and worker are recreated, the data stays, the new state is recorded', async () => {
    const before = await containers('u1');
    const r = await h.cli(['upgrade', 'u1', '--image', `app=${goodImage}`, '--json']);
    expect(r.exitCode, r.why).toBe(0);
    expect(r.json()).toMatchObject({ id: 'u1', outcome: 'upgraded', recreated: ['app', 'worker'] });
    const after = await containers('u1');
    expect(after.app.image).toBe(goodId);
    expect(after.worker.image).toBe(goodId);
    expect(after.db.id).toBe(before.db.id);
    expect(after.redis.id).toBe(before.redis.id);
    expect(await psql('u1', "SELECT name FROM crm.organizations WHERE slug = 'kept-org'")).toBe('Kept Org');
    const [row] = await h.adminQuery('SELECT reason, images FROM admin_tenant_deployments WHERE customer_id = $1 ORDER BY id DESC LIMIT 1', ['u1']);
    expect(row.reason).toBe('upgrade');
    expect(row.images.app).toEqual({ tag: goodImage, id: goodId });

    const again = await h.cli(['upgrade', 'u1', '--image', `app=${goodImage}`, '--json']);
    expect(again.exitCode, again.why).toBe(0);
    expect(again.json().outcome).toBe('unchanged');
  }, 300_000);

  it('changes the plan: limits applied, volumes kept, plan recorded', async () => {
    const r = await h.cli(['upgrade', 'u1', '--image', `app=${goodImage}`, '--plan', 'enterprise', '--json']);
    expect(r.exitCode, r.why).toBe(0);
    expect(await psql('u1', "SELECT name FROM crm.organizations WHERE slug = 'kept-org'")).toBe('Kept Org');
    expect(await h.adminQuery('SELECT plan FROM admin_customers WHERE id = $1', ['u1'])).toEqual([{ plan: 'enterprise' }]);
  }, 300_000);

  it('rolls back an image that never becomes ready (exit 7), to the image id it ran', async () => {
    const r = await h.cli(['upgrade', 'u1', '--image', `app=${brokenImage}`, '--json']);
    expect(r.exitCode, r.why).toBe(7);
    expect(r.json().error.message).toMatch(/rolled back to the state recorded at .*which is ready/);
    const after = await containers('u1');
    expect(after.app.image).toBe(goodId);
    expect(after.worker.image).toBe(goodId);
    expect(await psql('u1', "SELECT name FROM crm.organizations WHERE slug = 'kept-org'")).toBe('Kept Org');
    // The image the good state ran stays reachable under the tenant's own tag, whatever its tag does.
    expect((await execa('docker', ['image', 'inspect', '--format', '{{.Id}}', `tenantctl-rollback:${project('u1')}-app`])).stdout.trim()).toBe(goodId);
    const [row] = await h.adminQuery('SELECT reason, plan FROM admin_tenant_deployments WHERE customer_id = $1 ORDER BY id DESC LIMIT 1', ['u1']);
    expect(row).toEqual({ reason: 'rollback', plan: 'enterprise' });
    const status = await h.cli(['status', 'u1', '--json']);
    expect(status.exitCode, status.why).toBe(0);
  }, 300_000);

  it('stops a batch at the canary\'s failure; --continue goes on', async () => {
    const u2Before = await containers('u2');
    const r = await h.cli(['upgrade', 'u1', 'u2', '--image', `app=${brokenImage}`, '--json']);
    expect(r.exitCode, r.why).toBe(9);
    const batch = r.json();
    expect(batch.canary).toBe('u1');
    expect(batch.tenants.map((t: any) => [t.id, t.ok ? t.result.outcome : t.error.code])).toEqual([['u1', 'notReady'], ['u2', 'skipped']]);
    expect((await containers('u2')).app.id).toBe(u2Before.app.id);

    const c = await h.cli(['upgrade', 'u1', 'u2', '--image', `app=${brokenImage}`, '--continue', '--json']);
    expect(c.exitCode, c.why).toBe(9);
    expect(c.json().tenants.map((t: any) => [t.id, t.ok ? t.result.outcome : t.error.code])).toEqual([['u1', 'notReady'], ['u2', 'notReady']]);
    // Rolled back to the image id it ran before (not to whatever tenantctl/app:latest is now).
    expect((await containers('u2')).app.image).toBe(u2Before.app.image);
  }, 600_000);

  it('moves a tenant whose services start as root to non-root services on its next upgrade, with its data', async () => {
    const r = await h.cli(['provision', 'u3', '--template', 'legacy', '--json']);
    expect(r.exitCode, r.why).toBe(0);
    await psql('u3', "INSERT INTO crm.organizations (name, slug) VALUES ('Old Org', 'old-org')");
    const usersOf = async () => Object.fromEntries(await Promise.all((['db', 'redis', 'app', 'worker'] as const).map(async (s) => [s, (await inspect(await containerOf(project('u3'), s))).Config.User])));
    expect(await usersOf()).toEqual({ db: '', redis: '', app: '', worker: '' });

    // A copy folder an older render left (a uid no service runs as now): the proven upgrade removes it.
    const secretsDir = path.join(h.customersDir, 'u3', 'secrets');
    mkdirSync(path.join(secretsDir, 'user-4242-4242'), { mode: 0o700 });
    writeFileSync(path.join(secretsDir, 'user-4242-4242', 'DB_PASSWORD'), readFileSync(path.join(secretsDir, 'DB_PASSWORD')), { mode: 0o400 });

    const up = await h.cli(['upgrade', 'u3', '--template', path.join(shippedCrm, 'docker-compose.tenant.yml'), '--json']);
    expect(up.exitCode, up.why).toBe(0);
    expect(up.json().recreated).toEqual(['app', 'db', 'redis', 'worker']);
    expect(await usersOf()).toEqual({ db: '101:103', redis: '100:102', app: '10001:10001', worker: '10001:10001' });
    // Its copies were written before compose mounted them; the data volumes were already the users'.
    const copy = statSync(path.join(h.customersDir, 'u3', 'secrets', 'user-101-103', 'DB_PASSWORD'));
    expect([copy.uid, copy.mode & 0o777]).toEqual([101, 0o400]);
    const folders = readdirSync(secretsDir).filter((name) => name.startsWith('user-')).sort();
    expect(folders).toEqual(['user-100-102', 'user-10001-10001', 'user-101-103']);
    // No copy readable by group or others, nor its folder (the operator's files are 0600 in a 0700 folder).
    for (const folder of folders) {
      expect(statSync(path.join(secretsDir, folder)).mode & 0o077, folder).toBe(0);
      for (const file of readdirSync(path.join(secretsDir, folder))) expect(statSync(path.join(secretsDir, folder, file)).mode & 0o377, `${folder}/${file}`).toBe(0);
    }
    expect(await psql('u3', "SELECT name FROM crm.organizations WHERE slug = 'old-org'")).toBe('Old Org');
    const status = await h.cli(['status', 'u3', '--json']);
    expect(status.exitCode, status.why).toBe(0);
  }, 400_000);
});
