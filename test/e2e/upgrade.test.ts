// Upgrades on real Docker: a new app image and a new plan brought up with only what changed
// recreated and the data kept; an image that never becomes ready rolled back to the last good state
// (exit 7, "rolled back to"), ready again on the image id it ran; several tenants: the canary's
// failure stops the batch before any other tenant is touched, --continue goes on. A tenant whose
// services start as root (provisioned before the shipped templates named each service's user)
// gets its secret copies and non-root services from its next upgrade, its data kept. A tenant on
// the images' old Debian uids (postgres 101:103, redis 100:102) has its volumes handed to the new
// ones (70001, 70002) by its upgrade, step `reowned`; killed (SIGKILL, SIGINT) there the upgrade is
// rolled back with the volumes handed back; recreated on the rebuilt images under its old user: lines
// (a compose up after the tags moved) it keeps running and its upgrade still moves the volumes (the
// plan follows the numbers the containers run as); a backup taken before restores into the moved tenant.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { parseDocument } from 'yaml';
import path from 'node:path';
import { containerOf, createHarness, inspect, type Harness } from './harness.js';
import { startPausedAt } from './pause.js';
import { expectClean, fingerprint, interrupt, killHard, psqlIn, writeMark } from './journal.js';

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

/**
 * The shipped crm template as it was before the images moved their users to tenantctl's high uids:
 * PostgreSQL as 101:103, Redis as 100:102, app and worker as 10001 (Debian's numbers, and the app
 * image's old one). Provisioned on images renumbered back the same way (oldImages below).
 */
function writeOldUidsTemplate(): void {
  cpSync(shippedCrm, path.join(templatesDir, 'olduids'), { recursive: true });
  const file = path.join(templatesDir, 'olduids', 'docker-compose.tenant.yml');
  const text = readFileSync(file, 'utf8')
    .replaceAll('"70001:70001"', '"101:103"').replaceAll('uid=70001,gid=70001', 'uid=101,gid=103')
    .replaceAll('"70002:70002"', '"100:102"').replaceAll('uid=70002,gid=70002', 'uid=100,gid=102')
    .replaceAll('"70003:70003"', '"10001:10001"');
  if (/^[^#\n]*7000[123]/m.test(text)) throw new Error('the old-uids template was not made: the shipped one changed shape');
  writeFileSync(file, text);
}

/** The images a tenant runs by default (the env's, as tenantctl reads it), and the same with their user given its old Debian numbers back. */
const newImages = { postgres: process.env.TENANTCTL_POSTGRES_IMAGE || 'tenantctl/postgres:15', redis: process.env.TENANTCTL_REDIS_IMAGE || 'tenantctl/redis:7' };
const oldImages = { postgres: `tctupgrade-oldpg:${run}`, redis: `tctupgrade-oldredis:${run}` };
/**
 * The image as it was built before its user moved: images/<name>/Dockerfile without the step that
 * moves it, on the same Debian base. (A FROM on the new image cannot move it back: its data
 * directory is a VOLUME, and a later step's changes there are discarded.)
 */
async function buildOld(name: 'postgres' | 'redis', tag: string): Promise<void> {
  const dir = path.resolve(import.meta.dirname, '../../images', name);
  const text = readFileSync(path.join(dir, 'Dockerfile'), 'utf8');
  const old = text.replace(/^RUN set -eu; \\\n {4}old_uid=[\s\S]*?-print -quit\)"\n/m, '');
  if (old === text) throw new Error(`images/${name}/Dockerfile changed shape: its user-moving step was not found`);
  const base = newImages[name].replace(/\/[^/]+$/, '/debian-base:bookworm');
  await execa('docker', ['build', '-q', '--label', label, '--build-arg', `BASE_IMAGE=${base}`, '-t', tag, '-f', '-', dir], { input: old, timeout: 600_000 });
}

beforeAll(async () => {
  h = await createHarness('upgrade', {
    TENANTCTL_HEALTH_DEADLINE: '60',
    // Lanes (the brief's lane A, say) set their own; else this file's.
    TENANTCTL_SUBNET_POOL: process.env.TENANTCTL_SUBNET_POOL || `10.${200 + Math.floor(Math.random() * 50)}.0.0/16`,
    TENANTCTL_APP_PORTS: process.env.TENANTCTL_APP_PORTS || '4800-4849', TENANTCTL_DB_PORTS: process.env.TENANTCTL_DB_PORTS || '5800-5849', TENANTCTL_REDIS_PORTS: process.env.TENANTCTL_REDIS_PORTS || '6800-6849',
    TENANTCTL_TEMPLATES_DIR: templatesDir,
  });
  writeLegacyTemplate();
  writeOldUidsTemplate();
  await Promise.all([buildOld('postgres', oldImages.postgres), buildOld('redis', oldImages.redis)]);
  goodId = await build(goodImage, `FROM tenantctl/app:latest\nLABEL tenantctl.upgrade-test="good ${run}"\n`);
  await build(brokenImage, `FROM tenantctl/app:latest\nLABEL tenantctl.upgrade-test="broken ${run}"\nENTRYPOINT ["sh", "-c", "echo this build is broken >&2; exit 3"]\n`);
}, 600_000);

afterAll(async () => {
  await h?.cleanup();
  rmSync(templatesDir, { recursive: true, force: true });
  const ids = (await execa('docker', ['image', 'ls', '-q', '--filter', `label=${label}`], { reject: false })).stdout.split('\n').filter(Boolean);
  const pins = (await execa('docker', ['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}', 'tenantctl-rollback'], { reject: false })).stdout.split('\n').filter((t) => t.startsWith(`tenantctl-rollback:${h.prefix}-`));
  await execa('docker', ['rmi', '-f', goodImage, brokenImage, oldImages.postgres, oldImages.redis, ...pins, ...ids], { reject: false });
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
    expect(await usersOf()).toEqual({ db: '70001:70001', redis: '70002:70002', app: '70003:70003', worker: '70003:70003' });
    // Its copies were written before compose mounted them; the data volumes were already the users'.
    const copy = statSync(path.join(h.customersDir, 'u3', 'secrets', 'user-70001-70001', 'DB_PASSWORD'));
    expect([copy.uid, copy.mode & 0o777]).toEqual([70001, 0o400]);
    const folders = readdirSync(secretsDir).filter((name) => name.startsWith('user-')).sort();
    expect(folders).toEqual(['user-70001-70001', 'user-70002-70002', 'user-70003-70003']);
    // No copy readable by group or others, nor its folder (the operator's files are 0600 in a 0700 folder).
    for (const folder of folders) {
      expect(statSync(path.join(secretsDir, folder)).mode & 0o077, folder).toBe(0);
      for (const file of readdirSync(path.join(secretsDir, folder))) expect(statSync(path.join(secretsDir, folder, file)).mode & 0o377, `${folder}/${file}`).toBe(0);
    }
    expect(await psql('u3', "SELECT name FROM crm.organizations WHERE slug = 'old-org'")).toBe('Old Org');
    const status = await h.cli(['status', 'u3', '--json']);
    expect(status.exitCode, status.why).toBe(0);
  }, 400_000);

  describe('a tenant on the images\' old Debian uids', () => {
    const volume = (service: 'db' | 'redis') => `${project('u4')}_${service === 'db' ? 'db' : 'redis'}-data`;
    /** The owners (uid:gid) of everything in a volume, by a short labelled helper as root (its data directory 0700). */
    async function ownersOf(service: 'db' | 'redis'): Promise<string[]> {
      const r = await execa('docker', ['run', '--rm', '--label', label, '--network', 'none', '--mount', 'type=tmpfs,dst=/var/lib/postgresql/data',
        '-v', `${volume(service)}:/v`, '--entrypoint', 'find', newImages.postgres, '/v', '-xdev', '-printf', '%U:%G\\n'], { timeout: 120_000 });
      return [...new Set(r.stdout.split('\n').filter(Boolean))].sort();
    }
    const shippedFile = path.join(shippedCrm, 'docker-compose.tenant.yml');
    const usersOf = async () => Object.fromEntries(await Promise.all((['db', 'redis', 'app', 'worker'] as const).map(async (s) => [s, (await inspect(await containerOf(project('u4'), s))).Config.User])));
    const oldUsers = { db: '101:103', redis: '100:102', app: '10001:10001', worker: '10001:10001' };
    let backupId = '';
    /** The services scripts/hardening-check.mjs finds running as a uid some account of this host has. */
    async function sharingAHostUid(): Promise<string[]> {
      const check = await execa('node', [path.resolve(import.meta.dirname, '../../scripts/hardening-check.mjs'), project('u4'), '--json'], { reject: false });
      const report = JSON.parse(check.stdout) as { containers: Array<{ container: string; failed: string[] }> };
      return report.containers.filter((c) => c.failed.includes('uidNotOnHost')).map((c) => /[-_](db|redis|app|worker)[-_]\d+$/.exec(c.container)?.[1] ?? c.container).sort();
    }
    /** The services whose uid an account of this host has (getent), as the check must find them. */
    async function hostAccountsOf(users: Record<string, string>): Promise<string[]> {
      const has = await Promise.all(Object.entries(users).map(async ([service, user]) => [service, (await execa('getent', ['passwd', user.split(':')[0]!], { reject: false })).exitCode === 0] as const));
      return has.filter(([, taken]) => taken).map(([service]) => service).sort();
    }

    it('provisions it on the old images, with data and a backup', async () => {
      const r = await h.cli(['provision', 'u4', '--template', 'olduids', '--json'], { env: { TENANTCTL_POSTGRES_IMAGE: oldImages.postgres, TENANTCTL_REDIS_IMAGE: oldImages.redis } });
      expect(r.exitCode, r.why).toBe(0);
      await psqlIn(h, 'u4', 'CREATE TABLE k (n bigint); INSERT INTO k SELECT generate_series(1, 1000)');
      await writeMark(h, 'u4');
      expect(await usersOf()).toEqual(oldUsers);
      expect(await ownersOf('db')).toEqual(['101:103']);
      expect(await ownersOf('redis')).toEqual(['100:102']);
      // On a Debian host 100 and 101 are often messagebus and postgres: the check names exactly those services.
      expect(await sharingAHostUid()).toEqual(await hostAccountsOf(oldUsers));
      const b = await h.cli(['backup', 'u4', '--json']);
      expect(b.exitCode, b.why).toBe(0);
      backupId = b.json().id;
      await writeMark(h, 'u4');
    }, 400_000);

    it.each(['SIGKILL', 'SIGINT'] as const)('%s at upgrade:reowned (volumes handed over, services stopped): rolled back, the volumes handed back', async (signal) => {
      const data = await fingerprint(h, 'u4');
      const copies = () => readdirSync(path.join(h.customersDir, 'u4', 'secrets')).filter((name) => name.startsWith('user-')).sort();
      const copiesBefore = copies();
      const paused = await startPausedAt(h, ['upgrade', 'u4', '--template', shippedFile, '--quiet'], 'upgrade:reowned');
      expect(copies()).toContain('user-70001-70001');
      // Where it stopped: both volumes are the new users' already, nothing runs on them.
      expect(await ownersOf('db')).toEqual(['70001:70001']);
      expect(await ownersOf('redis')).toEqual(['70002:70002']);
      if (signal === 'SIGKILL') {
        await killHard(paused);
        const settled = await h.cli(['start', 'u4']);
        expect(settled.exitCode, settled.why).toBe(0);
        expect(settled.stderr).toContain('the interrupted upgrade of u4 is undone');
      } else {
        const r = await interrupt(paused);
        expect(r.exitCode, r.stderr).toBe(130);
        expect(r.stderr).toContain('rolled back to the state recorded at');
      }
      expect(await ownersOf('db')).toEqual(['101:103']);
      expect(await ownersOf('redis')).toEqual(['100:102']);
      expect(await usersOf()).toEqual(oldUsers);
      expect(await fingerprint(h, 'u4')).toBe(data);
      // The copy folders the upgrade wrote for the new numbers are gone with it.
      expect(copies()).toEqual(copiesBefore);
      await expectClean(h, 'u4');
    }, 400_000);

    it('recreated on the rebuilt images under its old user: lines (a compose up after build-images.sh moved the tags): keeps running as the old numbers', async () => {
      const data = await fingerprint(h, 'u4');
      // What a compose up does once build-images.sh moved the tags: db and redis recreated on the new
      // images under the file's old user: lines (the tenant's file, after the rollbacks above, names
      // the pins: a copy beside it names the new images, the rest as it is).
      const file = path.join(h.customersDir, 'u4', 'docker-compose.yml');
      const moved = path.join(h.customersDir, 'u4', 'docker-compose.tags-moved.yml');
      const doc = parseDocument(readFileSync(file, 'utf8'), { merge: true });
      doc.setIn(['services', 'db', 'image'], newImages.postgres);
      doc.setIn(['services', 'redis', 'image'], newImages.redis);
      writeFileSync(moved, doc.toString());
      try {
        await execa('docker', ['compose', '-p', project('u4'), '-f', moved, 'up', '-d', '--wait', 'db', 'redis'], { timeout: 300_000 });
      } finally {
        rmSync(moved, { force: true });
      }
      const newIds = await Promise.all([newImages.postgres, newImages.redis].map(async (i) => (await execa('docker', ['image', 'inspect', '--format', '{{.Id}}', i])).stdout.trim()));
      expect([(await containers('u4')).db.image, (await containers('u4')).redis.image]).toEqual(newIds);
      expect(await usersOf()).toEqual(oldUsers);
      expect(await ownersOf('db')).toEqual(['101:103']);
      expect(await fingerprint(h, 'u4')).toBe(data);
      // The new image started as its own uid on the data directory of 101's: refuses (never wipes it).
      const wrongUid = await execa('docker', ['run', '--rm', '--label', label, '--network', 'none', '--user', '70001:70001',
        '-v', `${volume('db')}:/var/lib/postgresql/data`, newImages.postgres, 'postgres'], { reject: false, timeout: 120_000 });
      expect(wrongUid.exitCode, wrongUid.stderr).toBe(1);
      expect(wrongUid.stderr).toMatch(/is owned by uid 101, this server runs as uid 70001: not starting/);
      // Its template still saying 101:103 onto the new images (where postgres is 70001): refused, nothing changed.
      const drift = await h.cli(['upgrade', 'u4', '--template', path.join(templatesDir, 'olduids', 'docker-compose.tenant.yml')]);
      expect(drift.exitCode, drift.stderr).toBe(2);
      expect(drift.stderr).toMatch(/runs db as user "101:103", but its new image gives user postgres 70001 \(was 101\).*nothing was changed/);
      expect(await ownersOf('db')).toEqual(['101:103']);
      await expectClean(h, 'u4');
    }, 400_000);

    it('upgrades: the volumes are the new users\' (nothing of the old numbers left), the data kept, the old copies gone; an older backup restores into it', async () => {
      const data = await fingerprint(h, 'u4');
      const up = await h.cli(['upgrade', 'u4', '--template', shippedFile, '--json']);
      expect(up.exitCode, up.why).toBe(0);
      expect(up.stderr).toMatch(/db-data \(uid 101 -> 70001, gid 103 -> 70001\)/);
      const newUsers = { db: '70001:70001', redis: '70002:70002', app: '70003:70003', worker: '70003:70003' };
      expect(await usersOf()).toEqual(newUsers);
      expect(await hostAccountsOf(newUsers)).toEqual([]);
      expect(await sharingAHostUid()).toEqual([]);
      expect(await ownersOf('db')).toEqual(['70001:70001']);
      expect(await ownersOf('redis')).toEqual(['70002:70002']);
      expect(await fingerprint(h, 'u4')).toBe(data);
      expect(readdirSync(path.join(h.customersDir, 'u4', 'secrets')).filter((name) => name.startsWith('user-')).sort()).toEqual(['user-70001-70001', 'user-70002-70002', 'user-70003-70003']);
      await expectClean(h, 'u4');
      // The backup from the old numbers: PostgreSQL's by SQL, Redis's files given the volume's owner.
      const restored = await h.cli(['restore', 'u4', '--from', backupId, '--yes', '--json']);
      expect(restored.exitCode, restored.why).toBe(0);
      expect(await ownersOf('redis')).toEqual(['70002:70002']);
      expect(await fingerprint(h, 'u4')).not.toBe(data);
      await expectClean(h, 'u4');
    }, 600_000);
  });
});
