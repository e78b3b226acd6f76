// Every verb for a second shape (issue 20), on real Docker: a frontbase tenant with its postgres
// profile keeps state in four pieces (two SQLite files on volumes, Redis, a PostgreSQL database),
// and backup, restore (in place, killed and interrupted, and after deprovision), clone,
// rotate-secrets (killed too) and upgrade (with a rollback) work on it from its template's
// x-tenantctl block alone. Its data is compared as one fingerprint: the backend's notes (SQLite
// through its API), rows in the edge's SQLite, Redis keys and PostgreSQL rows.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { containerOf, createHarness, dockerExec, dockerObjectsWithPrefix, rollbackPinsWithPrefix, type Harness } from './harness.js';
import { startPausedAt } from './pause.js';
import { interrupt, killHard } from './journal.js';

let h: Harness;
const id = 'fbv';
const urls: Record<string, string> = {};
const ports: Record<string, Record<string, number>> = {};
let backup = '';
let backedUp = '';
const brokenImage = 'tenantctl/frontbase-backend:e2e-broken';
const sameImage = 'tenantctl/frontbase-backend:e2e-same';

const project = (tenant: string) => `${h.prefix}-${tenant}`;
const secretOf = (tenant: string, name: string) => readFileSync(path.join(h.customersDir, tenant, 'secrets', name), 'utf8').trim();
const database = (tenant: string) => `frontbase_${tenant.replaceAll('-', '_')}`;

async function psql(tenant: string, sql: string): Promise<string> {
  const c = await containerOf(project(tenant), 'postgres');
  const r = await execa('docker', ['exec', c, 'psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-U', 'frontbase', '-d', database(tenant), '-c', sql], { reject: false });
  if (r.exitCode !== 0) throw new Error(`psql on ${tenant}: ${r.stderr}`);
  return r.stdout.trim();
}

/** SQL in the edge's own SQLite file, as the user the edge runs as (a root-owned journal would lock it out). */
async function edgeSql(tenant: string, sql: string): Promise<string> {
  const c = await containerOf(project(tenant), 'edge');
  const owner = (await dockerExec(c, ['stat', '-c', '%u', '/data/edge.db'])).stdout.trim();
  const r = await execa('docker', ['exec', '-u', owner, c, 'python3', '-c',
    'import sqlite3, sys\ndb = sqlite3.connect("/data/edge.db")\nrows = db.execute(sys.argv[1]).fetchall()\ndb.commit()\nprint(rows)', sql], { reject: false });
  if (r.exitCode !== 0) throw new Error(`edge sqlite on ${tenant}: ${r.stderr}`);
  return r.stdout.trim();
}

async function redisCli(tenant: string, args: string[]): Promise<string> {
  const c = await containerOf(project(tenant), 'redis');
  const quoted = args.map((a) => `'${a}'`).join(' ');
  return (await dockerExec(c, ['sh', '-c', `redis-cli --no-auth-warning --askpass ${quoted} </run/secrets/REDIS_PASSWORD`])).stdout.trim();
}

/** The tenant's data in all four pieces as one comparable value. */
async function fingerprint(tenant: string): Promise<string> {
  const notes = ((await (await fetch(`${urls[tenant]}/api/notes`)).json()).notes as Array<{ text: string }>).map((n) => n.text).sort();
  const edge = await edgeSql(tenant, 'SELECT count(*), coalesce(sum(n), 0) FROM marks');
  const keys = (await redisCli(tenant, ['--scan', '--pattern', 'mark:*'])).split('\n').filter(Boolean).sort();
  const rows = await psql(tenant, "SELECT count(*) || ' rows, sum ' || coalesce(sum(n), 0) FROM marks");
  return JSON.stringify({ notes, edge, keys, rows });
}

let marks = 0;
/** One change in every piece: a note, an edge row, a Redis key, a PostgreSQL row. */
async function writeMark(tenant: string): Promise<void> {
  marks += 1;
  const created = await fetch(`${urls[tenant]}/api/notes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: `mark ${marks}` }) });
  expect(created.status).toBe(201);
  await edgeSql(tenant, `INSERT INTO marks VALUES (${marks})`);
  expect(await redisCli(tenant, ['SET', `mark:${marks}`, '1'])).toBe('OK');
  await psql(tenant, `INSERT INTO marks VALUES (${marks})`);
}

async function changed(): Promise<string> {
  await writeMark(id);
  const now = await fingerprint(id);
  expect(now).not.toBe(backedUp);
  return now;
}

/** Nothing of a restore left in any piece (no folder set aside or staged, no scratch database), nothing in flight, healthy. */
async function expectClean(tenant: string): Promise<void> {
  for (const service of ['backend', 'edge', 'redis']) {
    const listing = (await dockerExec(await containerOf(project(tenant), service), ['ls', '-A', '/data'])).stdout.split('\n');
    expect(listing.filter((f) => f.startsWith('.tenantctl')), `${tenant} ${service}`).toEqual([]);
  }
  expect(await psql(tenant, "SELECT string_agg(datname, ',') FROM pg_database WHERE datname ~ '^(restore|replaced|restored)_'")).toBe('');
  expect(await h.adminQuery("SELECT verb, step FROM admin_operations WHERE customer_id = $1 AND state = 'running'", [tenant])).toEqual([]);
  const status = await h.cli(['status', tenant, '--json']);
  expect(status.exitCode, status.why).toBe(0);
}

beforeAll(async () => {
  h = await createHarness('fbverbs', { TENANTCTL_HEALTH_DEADLINE: '45' });
  const r = await h.cli(['provision', id, '--template', 'frontbase', '--with', 'postgres', '--json']);
  if (r.exitCode !== 0) throw new Error(r.why);
  urls[id] = r.json().url;
  ports[id] = r.json().ports;
  await psql(id, 'CREATE TABLE marks (n bigint)');
  await edgeSql(id, 'CREATE TABLE marks (n INTEGER)');
  await writeMark(id);
  await writeMark(id);
  // A trap in the tenant's own data: a CHECK whose function makes frontbase a superuser when it
  // runs as one. Harmless as frontbase; a restore that copied the rows in as the superuser sprang it.
  await psql(id, `CREATE FUNCTION escalate() RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN EXECUTE 'ALTER ROLE frontbase SUPERUSER'; END IF;
    RETURN true; END $$`);
  await psql(id, 'CREATE TABLE trap (n int CHECK (escalate())); INSERT INTO trap VALUES (1)');
  // An image that never answers (the backend's, sleeping): what an upgrade rolls back from.
  await execa('docker', ['build', '-q', '-t', brokenImage, '--label', `tenantctl.e2e=${h.prefix}`, '-'], {
    input: 'FROM tenantctl/frontbase-backend:latest\nCMD ["sleep", "infinity"]\n',
  });
  await execa('docker', ['tag', 'tenantctl/frontbase-backend:latest', sameImage]);
}, 600_000);

afterAll(async () => {
  await execa('docker', ['image', 'rm', '-f', brokenImage, sameImage], { reject: false });
  await h?.cleanup();
}, 300_000);

describe('the postgres profile\'s roles', () => {
  it('frontbase owns its database and is not a superuser; the image\'s superuser has no password (local socket only)', async () => {
    expect(await psql(id, "SELECT r.rolsuper::text || ' ' || (pg_get_userbyid(d.datdba) = current_user)::text FROM pg_roles r, pg_database d WHERE r.rolname = current_user AND d.datname = current_database()")).toBe('false true');
    // What a superuser could do and frontbase cannot: run a program in the container.
    await expect(psql(id, "COPY (SELECT 1) TO PROGRAM 'true'")).rejects.toThrow(/superuser|pg_execute_server_program/);
    const c = await containerOf(project(id), 'postgres');
    const superusers = await execa('docker', ['exec', c, 'psql', '-X', '-A', '-t', '-U', 'postgres', '-d', 'postgres', '-c', 'SELECT rolname, rolpassword IS NULL FROM pg_authid WHERE rolsuper']);
    expect(superusers.stdout.trim()).toBe('postgres|t');
    const overTcp = await execa('docker', ['exec', '-e', 'PGPASSWORD', c, 'psql', '-X', '-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-c', 'SELECT 1'], { reject: false, env: { PGPASSWORD: secretOf(id, 'DB_PASSWORD') } });
    expect(overTcp.exitCode).not.toBe(0);
    expect(overTcp.stderr).toMatch(/password authentication failed/);
  });
});

describe('backup and restore of a frontbase tenant (SQLite, Redis, PostgreSQL)', () => {
  it('backs up every piece its template declares, each checked, in a format-2 manifest', async () => {
    const r = await h.cli(['backup', id, '--json']);
    expect(r.exitCode, r.why).toBe(0);
    backup = r.json().id;
    backedUp = await fingerprint(id);
    expect(Object.keys(r.json().files).sort()).toEqual(['backend.sqlite', 'edge.sqlite', 'postgres.dump', 'redis.rdb', 'tenant.json']);
    const manifest = JSON.parse(readFileSync(path.join(r.json().directory, 'manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({
      format: 'tenantctl-backup/2', template: 'frontbase',
      pieces: {
        backend: { kind: 'sqlite', service: 'backend', file: 'backend.sqlite' },
        edge: { kind: 'sqlite', service: 'edge', file: 'edge.sqlite' },
        redis: { kind: 'redis', service: 'redis', file: 'redis.rdb' },
        postgres: { kind: 'postgres', service: 'postgres', file: 'postgres.dump' },
      },
    });
    const tenant = JSON.parse(readFileSync(path.join(r.json().directory, 'tenant.json'), 'utf8'));
    expect(tenant.record).toMatchObject({ template: 'frontbase', profiles: ['postgres'] });
    for (const file of Object.keys(r.json().files)) expect(readFileSync(path.join(r.json().directory, file), 'latin1')).not.toContain(secretOf(id, 'DB_PASSWORD'));
  }, 180_000);

  it('restores in place: every piece back as it was at the backup', async () => {
    await changed();
    const r = await h.cli(['restore', id, '--from', backup, '--yes', '--json']);
    expect(r.exitCode, r.why).toBe(0);
    expect(r.json()).toMatchObject({ mode: 'in-place', outcome: 'restored' });
    expect(await fingerprint(id)).toBe(backedUp);
    await expectClean(id);
    // The dump's rows went in as the owner (pg_restore --role): the trap's CHECK ran, and changed nothing.
    expect(await psql(id, 'SELECT count(*) FROM trap')).toBe('1');
    expect(await psql(id, "SELECT rolsuper FROM pg_roles WHERE rolname = 'frontbase'")).toBe('f');
  }, 300_000);

  it('kill -9 after the swap, then `start` settles it: every piece back to the tenant\'s own data', async () => {
    const before = await changed();
    await killHard(await startPausedAt(h, ['restore', id, '--from', backup, '--yes', '--quiet'], 'restore:swapped'));
    const settled = await h.cli(['start', id]);
    expect(settled.exitCode, settled.why).toBe(0);
    expect(settled.stderr).toContain(`the interrupted restore of ${id} is undone`);
    expect(await fingerprint(id)).toBe(before);
    await expectClean(id);
  }, 300_000);

  it('Ctrl-C once the restored stack started: exit 130, the tenant\'s own data back, what the restored stack held kept and named', async () => {
    const before = await changed();
    const r = await interrupt(await startPausedAt(h, ['restore', id, '--from', backup, '--yes'], 'restore:started'));
    expect(r.exitCode, r.stderr).toBe(130);
    expect(r.stderr).toContain(`undone: ${id} runs on its own data again, proven ready`);
    expect(r.stderr).toMatch(/is kept, not dropped: .*backend's files \.tenantctl-restored-[\w-]+-backend\/ in its volume/);
    expect(r.stderr).toMatch(/database restored_\w+_postgres/);
    expect(await fingerprint(id)).toBe(before);
    // The operator looks, then drops what was kept.
    // As each service's own user (edge runs as its user from the start, without capabilities): what was kept is theirs to remove.
    for (const service of ['backend', 'edge', 'redis']) {
      const removed = await dockerExec(await containerOf(project(id), service), ['sh', '-c', 'rm -rf /data/.tenantctl-restored-*']);
      expect(removed.exitCode, `${service}: ${removed.stderr}`).toBe(0);
    }
    const kept = await psql(id, "SELECT datname FROM pg_database WHERE datname LIKE 'restored\\_%'");
    expect(kept).toMatch(/^restored_\w+_postgres$/);
    await psql(id, `DROP DATABASE ${kept}`);
    await expectClean(id);
  }, 300_000);

  it('refuses a backup whose pieces do not fit the tenant now (exit 2), nothing changed', async () => {
    // fbw backed up without its postgres profile, then provisioned again with it: the backup has no postgres piece.
    expect((await h.cli(['provision', 'fbw', '--template', 'frontbase'])).exitCode).toBe(0);
    // Without its postgres profile it has no PostgreSQL piece: --physical is refused (exit 2) before
    // anything is made (the repository, configured for this command only, is never even created).
    const neverMade = path.join(h.dir, 'physical-refused-repository');
    const physical = await h.cli(['backup', 'fbw', '--physical', '--json'], { env: { TENANTCTL_BACKUP_REPOSITORY: neverMade } });
    expect(physical.exitCode, physical.why).toBe(2);
    expect(physical.json().error.message).toMatch(/fbw cannot be backed up physically: it has 0 PostgreSQL pieces \(its template and profiles/);
    expect(existsSync(neverMade)).toBe(false);
    expect(await h.adminQuery("SELECT count(*)::int AS n FROM admin_backups WHERE customer_id = 'fbw'")).toEqual([{ n: 0 }]);
    const b = await h.cli(['backup', 'fbw', '--json']);
    expect(b.exitCode, b.why).toBe(0);
    expect((await h.cli(['deprovision', 'fbw', '--yes'])).exitCode).toBe(0);
    expect((await h.cli(['provision', 'fbw', '--template', 'frontbase', '--with', 'postgres'])).exitCode).toBe(0);
    const r = await h.cli(['restore', 'fbw', '--from', b.json().id, '--yes', '--json']);
    expect(r.exitCode, r.why).toBe(2);
    expect(r.json().error.message).toMatch(/does not fit fbw: postgres \(postgres\) is not in it; nothing was changed/);
    await expectClean('fbw');
    expect((await h.cli(['deprovision', 'fbw', '--yes'])).exitCode).toBe(0);
  }, 300_000);
});

describe('clone of a frontbase tenant', () => {
  it('makes a new tenant with the same data in every piece, its own passwords and keys', async () => {
    const r = await h.cli(['clone', id, '--as', 'fbv-copy', '--name', 'FB copy', '--json']);
    expect(r.exitCode, r.why).toBe(0);
    const result = r.json();
    expect(result).toMatchObject({ id: 'fbv-copy', source: id, mode: 'new', outcome: 'provisioned-and-restored', backup: expect.stringMatching(/^fbv-/) });
    expect(result.initialApiKey.key).toEqual(expect.any(String));
    urls['fbv-copy'] = result.url;
    expect(await fingerprint('fbv-copy')).toBe(await fingerprint(id));
    for (const name of ['DB_PASSWORD', 'REDIS_PASSWORD', 'REDIS_HTTP_TOKEN', 'SECRET_KEY']) expect(secretOf('fbv-copy', name)).not.toBe(secretOf(id, name));
    const [row] = await h.adminQuery("SELECT name, template, profiles FROM admin_customers WHERE id = 'fbv-copy'");
    expect(row).toEqual({ name: 'FB copy', template: 'frontbase', profiles: ['postgres'] });
    // The two are apart from now on.
    await writeMark('fbv-copy');
    expect(await fingerprint('fbv-copy')).not.toBe(await fingerprint(id));
    await expectClean('fbv-copy');
  }, 300_000);

  it('refuses an id that is taken (exit 5) before any backup is made', async () => {
    const backups = (await h.adminQuery('SELECT count(*)::int AS n FROM admin_backups'))[0].n;
    const r = await h.cli(['clone', id, '--as', 'fbv-copy', '--json']);
    expect(r.exitCode, r.why).toBe(5);
    expect(r.json().error.message).toMatch(/tenant fbv-copy exists \(active\)/);
    expect((await h.adminQuery('SELECT count(*)::int AS n FROM admin_backups'))[0].n).toBe(backups);
    const d = await h.cli(['deprovision', 'fbv-copy', '--yes']);
    expect(d.exitCode, d.why).toBe(0);
  }, 120_000);
});

describe('rotate-secrets of a frontbase tenant', () => {
  it('replaces every secret where it lives: the old PostgreSQL password and Redis-over-HTTP token refused, the new ones work', async () => {
    const before = await fingerprint(id);
    const old = { db: secretOf(id, 'DB_PASSWORD'), token: secretOf(id, 'REDIS_HTTP_TOKEN') };
    const r = await h.cli(['rotate-secrets', id, '--json']);
    expect(r.exitCode, r.why).toBe(0);
    expect(r.json().rotated.sort()).toEqual(['DB_PASSWORD', 'REDIS_HTTP_TOKEN', 'REDIS_PASSWORD', 'SECRET_KEY']);
    const fresh = { db: secretOf(id, 'DB_PASSWORD'), token: secretOf(id, 'REDIS_HTTP_TOKEN') };
    expect(fresh.db).not.toBe(old.db);
    const login = async (password: string) => {
      const client = new pg.Client({ host: '127.0.0.1', port: ports[id]!.postgres, user: 'frontbase', password, database: database(id) });
      try {
        await client.connect();
        return 'ok';
      } catch (error) {
        return (error as Error).message;
      } finally {
        await client.end().catch(() => undefined);
      }
    };
    expect(await login(old.db)).toMatch(/password authentication failed/);
    expect(await login(fresh.db)).toBe('ok');
    const webdis = (token: string) => fetch(`http://127.0.0.1:${ports[id]!.redis_http}/PING`, { headers: { authorization: `Basic ${Buffer.from(`tenantctl:${token}`).toString('base64')}` } });
    expect((await webdis(old.token)).status).toBe(403);
    expect((await webdis(fresh.token)).status).toBe(200);
    expect(await fingerprint(id)).toBe(before);
  }, 300_000);

  it('kill -9 once the new passwords are applied, then `start` settles it: the files and the servers agree again', async () => {
    const old = secretOf(id, 'DB_PASSWORD');
    await killHard(await startPausedAt(h, ['rotate-secrets', id, '--only', 'DB_PASSWORD', '--quiet'], 'rotate:applied'));
    const settled = await h.cli(['start', id]);
    expect(settled.exitCode, settled.why).toBe(0);
    expect(settled.stderr).toContain(`the interrupted rotate-secrets of ${id} is undone`);
    expect(secretOf(id, 'DB_PASSWORD')).toBe(old);
    const client = new pg.Client({ host: '127.0.0.1', port: ports[id]!.postgres, user: 'frontbase', password: old, database: database(id) });
    await client.connect();
    await client.end();
    await expectClean(id);
  }, 300_000);
});

describe('upgrade of a frontbase tenant', () => {
  it('takes a new image for one of the template\'s own image variables and recreates that service (and its dependents) only', async () => {
    const before = await fingerprint(id);
    const r = await h.cli(['upgrade', id, '--image', `backend=${sameImage}`, '--json']);
    expect(r.exitCode, r.why).toBe(0);
    expect(r.json().outcome).toBe('upgraded');
    // The backend, and what compose recreates with it (frontend: depends_on backend); nothing holding state.
    expect(r.json().recreated).toContain('backend');
    expect(r.json().recreated.filter((s: string) => s !== 'backend' && s !== 'frontend')).toEqual([]);
    expect(r.json().to.images.backend.tag).toBe(sameImage);
    expect(await fingerprint(id)).toBe(before);
  }, 300_000);

  it('refuses an image key the template has not (exit 2) and an image that is not there (exit 6), changing nothing', async () => {
    const unknown = await h.cli(['upgrade', id, '--image', 'app=tenantctl/app:latest', '--json']);
    expect(unknown.exitCode, unknown.why).toBe(2);
    expect(unknown.json().error.message).toMatch(/template frontbase has no image app \(its images: backend, edge, frontend, postgres, redis, redis_http\)/);
    const missing = await h.cli(['upgrade', id, '--image', 'edge=tenantctl/frontbase-edge:no-such-tag', '--json']);
    expect(missing.exitCode, missing.why).toBe(6);
    expect(missing.json().error.message).toMatch(/image tenantctl\/frontbase-edge:no-such-tag is not on this Docker host; nothing was changed/);
  }, 120_000);

  it('rolls back to the last good state when the new image never becomes ready (exit 7), data untouched', async () => {
    const before = await fingerprint(id);
    // The broken backend runs but never answers, so the upgrade waits out the whole readiness deadline
    // before rolling back: a shorter one for this run only (the rollback's own wait is well within it).
    const r = await h.cli(['upgrade', id, '--image', `backend=${brokenImage}`, '--json'], { env: { TENANTCTL_HEALTH_DEADLINE: '20' } });
    expect(r.exitCode, r.why).toBe(7);
    expect(r.json().error.message).toMatch(/rolled back to the state recorded at .*, which is ready/);
    expect(await fingerprint(id)).toBe(before);
    await expectClean(id);
  }, 300_000);
});

describe('migrate and deprovision-then-restore of a frontbase tenant', () => {
  it('migrate refuses it: its template has no migrations (exit 2)', async () => {
    const r = await h.cli(['migrate', id, '--json']);
    expect(r.exitCode, r.why).toBe(2);
    expect(r.json().error.message).toMatch(/fbv cannot be migrated: its template frontbase has no migrations/);
  });

  it('deprovisioned, then restored from its backup: provisioned with its profile, every piece as backed up', async () => {
    const d = await h.cli(['deprovision', id, '--yes', '--json']);
    expect(d.exitCode, d.why).toBe(0);
    const r = await h.cli(['restore', id, '--from', backup, '--json']);
    expect(r.exitCode, r.why).toBe(0);
    expect(r.json()).toMatchObject({ mode: 'new', outcome: 'provisioned-and-restored' });
    urls[id] = r.json().url;
    const [row] = await h.adminQuery('SELECT template, profiles FROM admin_customers WHERE id = $1', [id]);
    expect(row).toEqual({ template: 'frontbase', profiles: ['postgres'] });
    expect(await fingerprint(id)).toBe(backedUp);
    await expectClean(id);
  }, 300_000);
});

describe('what the file leaves', () => {
  it('nothing of its own once its tenants are deprovisioned: no container, network or volume of its projects but the admin database\'s, no rollback pin', async () => {
    for (const tenant of (await h.adminQuery("SELECT id FROM admin_customers WHERE status <> 'deprovisioned'")).map((r) => r.id as string)) {
      const d = await h.cli(['deprovision', tenant, '--yes', '--json']);
      expect(d.exitCode, d.why).toBe(0);
    }
    const left = await dockerObjectsWithPrefix(h.prefix);
    const admin = await dockerObjectsWithPrefix(`${h.prefix}-admin`);
    expect({
      containers: left.containers.filter((c) => !admin.containers.includes(c)),
      networks: left.networks.filter((n) => !admin.networks.includes(n)),
      volumes: left.volumes.filter((v) => !admin.volumes.includes(v)),
    }).toEqual({ containers: [], networks: [], volumes: [] });
    // The upgrades' pins (tenantctl-rollback:<project>-<service>) go with the tenant they kept images for.
    expect(await rollbackPinsWithPrefix(h.prefix)).toEqual([]);
  }, 300_000);
});
