// The disaster drill (issue 23): two tenants with rows and an API key, their backups and the admin
// database's snapshot in one restic repository on a separate test host over sftp
// (sftp-repository.ts); after the admin snapshot, rc1 gets more rows and a backup of them (which
// the admin snapshot does not know, and which must come back) and a backup killed (-9) half-way
// (no manifest: passed over, with its reason); then the machine is "lost":
// the tenants' stacks and volumes, the admin database (container and volume), the state dir and
// customers/ all removed. `tenantctl recover` is killed (-9) half-way through the first tenant,
// run again and interrupted (SIGINT), then run again: it finishes, every row is identical (counts
// and digests), the stopped tenant is stopped again, the API key is still valid, no tenant exists twice, and restic itself lists the
// admin snapshot. Measures tenants recovered per minute.
// A third tenant, rc3, of a template whose only state is PostgreSQL (pgonly-template.ts), has a
// logical backup and then, with more rows, a physical one (its cluster's files): recover chooses the
// physical one (the newest, whatever its kind) and restores it through the physical restore's steps;
// its first recover is killed (-9) once the restored cluster is swapped in, its next interrupted
// (SIGINT) once promoted with its own passwords, each undone; then it comes back with every row. Once
// rc3 is deprovisioned, restore --from its physical backup --as rc4 needs nothing of it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { execa } from 'execa';
import { createServer, type AddressInfo } from 'node:net';
import { containerOf, createHarness, dockerObjectsWithPrefix, removeDockerObjectsWithPrefix, stopwatch, useOwnFrontdoor, type Harness } from './harness.js';
import { startPausedAt, startPausedUntil } from './pause.js';
import { startSftpRepository, type SftpRepository } from './sftp-repository.js';
import { hashApiKey } from '../../src/api-keys/key.js';
import { writePgOnlyTemplate } from './pgonly-template.js';

let h: Harness;
let sftp: SftpRepository;
let passwordFile: string;
let doorPorts: { http: number; https: number };
const base = 'tenants.localhost';
const timings: Record<string, number> = {};
const timed = stopwatch(timings);

beforeAll(async () => {
  h = await createHarness('recover', {
    TENANTCTL_HEALTH_DEADLINE: '120',
    TENANTCTL_SUBNET_POOL: `10.${150 + Math.floor(Math.random() * 40)}.0.0/16`,
    TENANTCTL_APP_PORTS: '4850-4899', TENANTCTL_DB_PORTS: '5850-5899', TENANTCTL_REDIS_PORTS: '6850-6899',
    // The operator keeps the master key apart from the machine (a password manager): given to every command.
    TENANTCTL_MASTER_KEY: randomBytes(32).toString('hex'),
  });
  doorPorts = await useOwnFrontdoor(h);
  // The off-site host: it survives the lost machine (no compose project of the prefix).
  sftp = await startSftpRepository(h, randomBytes(24).toString('base64url'));
  passwordFile = sftp.passwordFile;
  await sftp.restic(['init', '--quiet']);
  Object.assign(h.env, { TENANTCTL_BACKUP_REPOSITORY_PASSWORD_FILE: passwordFile });
  // The operator's templates (crm is built in): kept apart from the lost machine's state, as its config is.
  h.env.TENANTCTL_TEMPLATES_DIR = writePgOnlyTemplate(h.dir, h.env);
}, 600_000);

afterAll(async () => {
  console.log(`recover e2e timings (ms): ${JSON.stringify(timings)}`);
  if (h) await sftp?.remove();
  await h?.cleanup();
});

const project = (id: string) => `${h.prefix}-${id}`;

async function psql(id: string, sql: string): Promise<string> {
  const db = await containerOf(project(id), 'db');
  const r = await execa('docker', ['exec', db, 'psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-U', 'tenant_owner', '-d', 'tenant', '-c', sql], { timeout: 120_000, reject: false });
  if (r.exitCode !== 0) throw new Error(`psql on ${id} failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** Every table of the tenant's schemas: its row count, a sum over its rows and a digest of them all. */
async function tableDigests(id: string): Promise<Record<string, string>> {
  const tables = (await psql(id, "SELECT table_schema || '.' || table_name FROM information_schema.tables WHERE table_schema IN ('crm', 'public', 'app') AND table_type = 'BASE TABLE' ORDER BY 1")).split('\n').filter(Boolean);
  const out: Record<string, string> = {};
  for (const table of tables) {
    out[table] = await psql(id, `SELECT count(*) || ' ' || coalesce(sum(length(t::text)), 0) || ' ' || coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text)), '-') FROM ${table} t`);
  }
  return out;
}

async function waitForDb(id: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await psql(id, 'SELECT 1');
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

/** The tenant's API through the front door with a key: the HTTP status (TLS verified with this machine's local CA). */
async function throughDoor(id: string, key: string): Promise<number> {
  const host = `${id}.${base}`;
  const ca = path.join(h.env.TENANTCTL_STATE_DIR!, 'frontdoor', 'tls', 'ca.crt');
  const r = await execa('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '10', '--cacert', ca, '--resolve', `${host}:${doorPorts.https}:127.0.0.1`,
    '-H', `authorization: Bearer ${key}`, `https://${host}:${doorPorts.https}/api/ping`], { reject: false });
  if (r.exitCode !== 0) throw new Error(`curl through the door: exit ${r.exitCode}: ${r.stderr}`);
  return Number(r.stdout);
}

const before: Record<string, Record<string, string>> = {};
let apiKey = '';
let goodSnapshot = '';
let goodDump = '';
let laterBackup = '';
let cutBackup = '';
let rc3Logical = '';
let rc3Physical = '';
let rc1Physical = '';
/** redis-cli in the tenant's redis container, its password read from the secret file there (never on a command line). */
async function redisCli(id: string, args: string): Promise<string> {
  const c = await containerOf(project(id), 'redis');
  return (await execa('docker', ['exec', c, 'sh', '-c', `redis-cli --no-auth-warning --askpass ${args} </run/secrets/REDIS_PASSWORD`], { timeout: 60_000 })).stdout.trim();
}
const restic = async (args: string[]) => String((await sftp.restic(args)).stdout);
/** The step of the tenant's running recover, if one runs. */
const recoverStep = async (id: string): Promise<string | undefined> =>
  (await h.adminQuery("SELECT step FROM admin_operations WHERE verb = 'recover' AND customer_id = $1 AND state = 'running'", [id]))[0]?.step;
/** What of a tenant's project is on the host: containers, volumes, and a physical restore's helpers on its volume. */
const dockerObjectsOf = async (id: string) => ({
  containers: (await execa('docker', ['ps', '-aq', '--filter', `label=com.docker.compose.project=${project(id)}`])).stdout.trim(),
  volumes: (await execa('docker', ['volume', 'ls', '-q', '--filter', `label=com.docker.compose.project=${project(id)}`])).stdout.trim(),
  helpers: (await execa('docker', ['ps', '-aq', '--filter', `label=tenantctl.restore=${id}`])).stdout.trim(),
});
const adminSnapshotIds = async (): Promise<string[]> =>
  JSON.parse(await restic(['snapshots', '--no-lock', '--json', '--tag', 'kind=admin'])).map((s: any) => s.id);

describe('the disaster drill: recover on a new machine', () => {
  it('two tenants with rows and an API key, backed up, and the admin database into the repository', async () => {
    const p = await timed('provision', () => h.cli(['provision', 'rc1', 'rc2', '--plan', 'starter', '--json']));
    expect(p.exitCode, p.why).toBe(0);
    for (const [id, n] of [['rc1', 1500], ['rc2', 700]] as const) {
      await psql(id, `
        INSERT INTO crm.organizations (id, name, slug) VALUES ('${id === 'rc1' ? '1' : '2'}1111111-1111-1111-1111-111111111111', 'Org of ${id} ''q''', 'org-${id}');
        INSERT INTO crm.contacts (organization_id, first_name, last_name, email, notes)
          SELECT '${id === 'rc1' ? '1' : '2'}1111111-1111-1111-1111-111111111111', 'First' || g, 'Last' || g, 'c' || g || '@${id}.example', repeat('note ü€ ', g % 40)
          FROM generate_series(1, ${n}) g;`);
      before[id] = await tableDigests(id);
    }
    expect(before.rc1!['crm.contacts']).toMatch(/^1500 /);
    const k = await h.cli(['keys', 'create', 'rc1', '--name', 'drill', '--json']);
    expect(k.exitCode, k.why).toBe(0);
    apiKey = k.json().key;
    expect(apiKey).toMatch(/^tk_live_/);
    const door = await timed('frontdoor init', () => h.cli(['frontdoor', 'init', '--self-signed', '--json']));
    expect(door.exitCode, door.why).toBe(0);
    expect(await throughDoor('rc1', apiKey)).toBe(200);

    const b = await timed('backup', () => h.cli(['backup', 'rc1', 'rc2', '--json']));
    expect(b.exitCode, b.why).toBe(0);
    // rc3, of a template whose only state is PostgreSQL: a logical backup, more rows, then a physical one (the newer).
    const p3 = await timed('provision rc3', () => h.cli(['provision', 'rc3', '--plan', 'starter', '--template', 'pgonly', '--json']));
    expect(p3.exitCode, p3.why).toBe(0);
    await psql('rc3', `CREATE TABLE public.notes (id int PRIMARY KEY, body text NOT NULL);
      INSERT INTO public.notes SELECT g, repeat(md5(g::text), 1 + g % 7) FROM generate_series(1, 3000) g;`);
    const l3 = await timed('backup rc3 logical', () => h.cli(['backup', 'rc3', '--json']));
    expect(l3.exitCode, l3.why).toBe(0);
    rc3Logical = l3.json().id;
    await psql('rc3', "INSERT INTO public.notes SELECT g, 'after the logical backup' FROM generate_series(3001, 3100) g; UPDATE public.notes SET body = 'changed' WHERE id < 50");
    before.rc3 = await tableDigests('rc3');
    expect(before.rc3['public.notes']).toMatch(/^3100 /);
    const p3b = await timed('backup rc3 physical', () => h.cli(['backup', 'rc3', '--physical', '--json']));
    expect(p3b.exitCode, p3b.why).toBe(0);
    expect(p3b.json()).toMatchObject({ method: 'physical' });
    expect(Object.keys(p3b.json().snapshots).sort(), 'file by file (the helper reaches the sftp repository)').toEqual(['db.pgdata', 'db.pgwal.tar', 'manifest.json', 'tenant.json']);
    rc3Physical = p3b.json().id;
    // rc2 was stopped when the machine was lost: it comes back stopped.
    const s = await h.cli(['stop', 'rc2', '--json']);
    expect(s.exitCode, s.why).toBe(0);
    const a = await timed('admin-backup', () => h.cli(['admin-backup', '--json']));
    expect(a.exitCode, a.why).toBe(0);
    expect(a.json().bytes).toBeGreaterThan(10_000);
    expect(a.json().tags).toEqual(['kind=admin', 'frontdoor=self-signed']);
    // recover never overwrites a live registry (exit 5, nothing touched).
    const refused = await h.cli(['recover', '--json']);
    expect(refused.exitCode, refused.why).toBe(5);
    expect(refused.json().error.message).toMatch(/not empty/);
    // The tenants' backups are in the repository too (restic's own listing), nothing of them in the state dir.
    expect(JSON.parse(await restic(['snapshots', '--json', '--tag', 'tenant=rc1'])).length).toBeGreaterThan(0);
    // Neither the master key nor the repository password is in the dump.
    const dump = { stdout: await restic(['dump', '--no-lock', a.json().snapshot, '/tenantctl-admin.sql']) };
    expect(dump.stdout).toContain('admin_customers');
    expect(dump.stdout).not.toContain(h.env.TENANTCTL_MASTER_KEY);
    expect(dump.stdout).not.toContain(apiKey);
    goodSnapshot = a.json().snapshot; // restic's short id
    goodDump = dump.stdout;

    // After the admin snapshot: rc1 gets more rows and a backup of them (in the repository only), then a
    // backup killed (-9) after its first piece's snapshot (no manifest: never a backup).
    await psql('rc1', `INSERT INTO crm.contacts (organization_id, first_name, last_name, email, notes)
      SELECT '11111111-1111-1111-1111-111111111111', 'Late' || g, 'Row' || g, 'late' || g || '@rc1.example', 'after the admin snapshot' FROM generate_series(1, 250) g;`);
    before.rc1 = await tableDigests('rc1');
    expect(before.rc1['crm.contacts']).toMatch(/^1750 /);
    const later = await timed('backup after admin-backup', () => h.cli(['backup', 'rc1', '--json']));
    expect(later.exitCode, later.why).toBe(0);
    laterBackup = later.json().id;
    expect(laterBackup).toMatch(/^rc1-/);
    // Then a physical backup of it (its cluster's files, its Redis the logical way), a Redis key written
    // before it: the newest, in the repository only; recover restores it, both pieces.
    expect(await redisCli('rc1', 'SET drill:physical kept-by-physical')).toBe('OK');
    const phys = await timed('backup rc1 physical', () => h.cli(['backup', 'rc1', '--physical', '--json']));
    expect(phys.exitCode, phys.why).toBe(0);
    expect(Object.keys(phys.json().snapshots).sort()).toEqual(['db.pgdata', 'db.pgwal.tar', 'manifest.json', 'redis.rdb', 'tenant.json']);
    rc1Physical = phys.json().id;
    // (Its id read from the repository: the test's admin pool would outlive the lost admin database's password.)
    const backupTags = async () => new Set<string>(JSON.parse(await restic(['snapshots', '--json', '--tag', 'tenant=rc1'])).flatMap((x: any) => x.tags.filter((t: string) => t.startsWith('backup='))));
    const known = await backupTags();
    const killed = await startPausedAt(h, ['backup', 'rc1', '--json'], 'backup:piece-saved');
    killed.child.kill('SIGKILL');
    await killed.child;
    killed.resume();
    cutBackup = [...(await backupTags())].find((t) => !known.has(t))?.slice('backup='.length) ?? '';
    expect(cutBackup, 'the killed backup left a snapshot').toMatch(/^rc1-/);

    // admin-backup killed (-9) mid-stream: restic reads the end of its stdin as the file's end and records a cut-off snapshot.
    const cut = await startPausedAt(h, ['admin-backup', '--json'], 'admin-backup:streaming');
    cut.child.kill('SIGKILL');
    await cut.child.catch(() => {});
    cut.resume();
    const deadline = Date.now() + 60_000;
    while ((await adminSnapshotIds()).length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 500));
    const cutId = (await adminSnapshotIds()).find((id) => !id.startsWith(goodSnapshot));
    expect(cutId, 'the killed admin-backup left a snapshot').toBeDefined();
    const cutDump = { stdout: await restic(['dump', '--no-lock', cutId!, '/tenantctl-admin.sql']) };
    expect(cutDump.stdout.length).toBeLessThan(goodDump.length);
    expect(cutDump.stdout).not.toContain('PostgreSQL database dump complete');
  }, 400_000);

  it('loses the machine: stacks, volumes, the admin database, the state dir and customers/', async () => {
    await removeDockerObjectsWithPrefix(h.prefix);
    rmSync(h.env.TENANTCTL_STATE_DIR!, { recursive: true, force: true });
    rmSync(h.customersDir, { recursive: true, force: true });
    const left = await dockerObjectsWithPrefix(h.prefix);
    expect(left).toEqual({ containers: [], networks: [], volumes: [] });
    mkdirSync(h.customersDir, { recursive: true });
  }, 120_000);

  it('a forged admin snapshot (another host, a shell escape in it) is not chosen by itself, and refused when named', async () => {
    // In a repository of its own: the orphaned restic of the killed admin-backup may still hold the drill's lock (no forget there).
    const forgedRepo = path.join(h.dir, 'forged-repository');
    const env = { RESTIC_REPOSITORY: forgedRepo, RESTIC_PASSWORD_FILE: passwordFile };
    await execa('restic', ['init', '--quiet'], { env, timeout: 60_000 });
    const put = async (host: string, text: string) => {
      const made = await execa('restic', ['backup', '--json', '--stdin', '--stdin-filename', 'tenantctl-admin.sql', '--host', host, '--tag', 'kind=admin'], { env, input: text, timeout: 60_000 });
      return JSON.parse(made.stdout.trim().split('\n').pop()!).snapshot_id as string;
    };
    await put('vm-lost', goodDump);
    const forgedId = await put('intruder', goodDump.replace('\n', '\n\\! touch /tmp/tct-recover-owned\n'));
    const chose = await h.cli(['recover', '--repository', forgedRepo, '--json']);
    expect(chose.exitCode, chose.why).toBe(2);
    expect(chose.json().error.message).toMatch(/2 hosts.*--snapshot/);
    const named = await h.cli(['recover', '--repository', forgedRepo, '--snapshot', forgedId, '--json']);
    expect(named.exitCode, named.why).toBe(8);
    expect(named.json().error.message).toMatch(/psql meta-command.*nothing of it was committed/);
    expect(await h.adminQuery('SELECT count(*)::int AS n FROM admin_customers')).toEqual([{ n: 0 }]);
    expect(await h.adminQuery("SELECT pg_stat_file('/tmp/tct-recover-owned', true) IS NULL AS absent")).toEqual([{ absent: true }]);
  }, 120_000);

  it('recover killed (-9) half-way through a tenant, run again, brings both back exactly as they were', async () => {
    // A wrong master key: the admin database comes back, but no tenant is touched (exit 2).
    const wrongKey = await h.cli(['recover', '--json'], { env: { TENANTCTL_MASTER_KEY: randomBytes(32).toString('hex') } });
    expect(wrongKey.exitCode, wrongKey.why).toBe(2);
    expect(wrongKey.json().error.message).toMatch(/master key/);
    expect(await h.adminQuery("SELECT id FROM admin_operations WHERE verb = 'recover'")).toEqual([]);
    // The key is checked before COMMIT: nothing of the snapshot stays.
    expect(await h.adminQuery('SELECT count(*)::int AS n FROM admin_customers')).toEqual([{ n: 0 }]);

    // All three at once: rc2 waits at its logical staging, rc1 (physical, with Redis) at its swap, rc3 is killed (-9) once its
    // physical backup's cluster is swapped into its new data volume (not yet started).
    const paused = await startPausedUntil(h, ['recover', '--concurrency', '3', '--json'], ['restore:staged', 'restore-physical:swapped'], async () => (await recoverStep('rc3')) === 'swapped', 'rc3 at restore-physical:swapped');
    paused.child.kill('SIGKILL');
    await paused.child;
    paused.resume();
    // The admin database came back in the killed run (the cut-off snapshot passed over); the tenants it worked on are half-way (journaled).
    const running = await h.adminQuery("SELECT customer_id, step FROM admin_operations WHERE verb = 'recover' AND state = 'running'");
    expect(running.length).toBeGreaterThanOrEqual(1);
    expect(running.find((o) => o.customer_id === 'rc3')?.step).toBe('swapped');

    // Ctrl-C after the next run settled rc1 and detached it again: undone, exit 130, its row as the snapshot had it. One
    // tenant at a time, so the signal lands on this pause point with nothing else of the run in flight.
    const interrupted = await startPausedAt(h, ['recover', '--concurrency', '1', '--json'], 'recover:detached');
    interrupted.child.kill('SIGINT');
    interrupted.resume();
    const ended = await interrupted.child;
    expect(ended.exitCode, `${ended.stdout}\n${ended.stderr}`).toBe(130);
    const afterInterrupt = await h.adminQuery("SELECT c.id, c.status, (SELECT count(*)::int FROM admin_operations o WHERE o.customer_id = c.id AND o.verb = 'recover' AND o.state = 'running') AS running FROM admin_customers c WHERE c.id = 'rc1'");
    expect(afterInterrupt).toEqual([{ id: 'rc1', status: 'active', running: 0 }]);
    expect((await h.adminQuery("SELECT state FROM admin_operations WHERE customer_id = 'rc1' AND verb = 'recover' ORDER BY id DESC LIMIT 1"))[0].state).toBe('undone');

    // rc3's physical recover: its killed run settled (undone) by the next, which is interrupted
    // (SIGINT) once the restored server promoted and took rc3's own passwords: undone too, exit 130,
    // nothing of rc3 left on the host (its stack, its volumes, the restore's helper), its row as the
    // snapshot had it. rc2 waits at its staging (rc1, physical, once promoted) meanwhile; both undone by the same signal.
    const physicalInterrupted = await startPausedUntil(h, ['recover', '--concurrency', '3', '--json'], ['restore:staged', 'restore-physical:promoted'], async () => (await recoverStep('rc3')) === 'promoted', 'rc3 at restore-physical:promoted');
    physicalInterrupted.child.kill('SIGINT');
    // Let go only once it ended: rc3 must not go on past 'promoted' before the signal is handled.
    const physicalEnded = await physicalInterrupted.child;
    physicalInterrupted.resume();
    expect(physicalEnded.exitCode, `${physicalEnded.stdout}\n${physicalEnded.stderr}`).toBe(130);
    expect(await h.adminQuery("SELECT state, step FROM admin_operations WHERE customer_id = 'rc3' AND verb = 'recover' ORDER BY id")).toEqual([{ state: 'undone', step: 'swapped' }, { state: 'undone', step: 'promoted' }]);
    expect(await h.adminQuery("SELECT count(*)::int AS n FROM admin_operations WHERE verb = 'recover' AND state = 'running'")).toEqual([{ n: 0 }]);
    expect(await h.adminQuery("SELECT status, host FROM admin_customers WHERE id = 'rc3'")).toEqual([{ status: 'active', host: expect.any(String) }]);
    expect(await dockerObjectsOf('rc3')).toEqual({ containers: '', volumes: '', helpers: '' });

    // The fit check: with no app port free on the host (its one port held by a listener here), no
    // tenant is placed: each is reported "not placed" with why (exit 9), and nothing of it is made
    // (no journal row, no container, its record as the snapshot had it).
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, resolve));
    const heldPort = (blocker.address() as AddressInfo).port;
    const opsBefore = (await h.adminQuery("SELECT count(*)::int AS n FROM admin_operations WHERE verb = 'recover'"))[0].n;
    // rc1 "alive" on the host (a container of its project, never started; rc1, whose killed recover
    // was undone above: rc2's may be settled by this run, which removes what of its project is there):
    // the host-holds-it check comes before the ports, so it is skipped (not touched), not "not placed"
    // for ports it would hold itself.
    // (rc3 too: its template's own port ranges are not the held one.)
    const alive = await Promise.all(['rc1', 'rc3'].map(async (tenant) => (await execa('docker', ['create', '--label', `com.docker.compose.project=${project(tenant)}`, '--label', 'tenantctl.test=recover', 'tenantctl/postgres:15'])).stdout.trim()));
    try {
      const unfit = await h.cli(['recover', '--json'], { env: { TENANTCTL_APP_PORTS: `${heldPort}-${heldPort}` } });
      expect(unfit.exitCode, unfit.why).toBe(9);
      const outcomes = (unfit.json().tenants ?? unfit.json().error?.result?.tenants ?? []) as any[];
      expect(Object.fromEntries(outcomes.map((t) => [t.id, t.outcome])), JSON.stringify(outcomes.map((t) => [t.id, t.reason]))).toEqual({ rc1: 'skipped', rc2: 'not-placed', rc3: 'skipped' });
      expect(outcomes.find((t) => t.id === 'rc2').reason).toMatch(new RegExp(`^not placed: no app port free on .*${heldPort}-${heldPort}`));
      expect(outcomes.find((t) => t.id === 'rc1').reason).toMatch(/holds 1 containers and 0 volumes .*not touched/);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
      await execa('docker', ['rm', '-fv', ...alive]);
    }
    expect((await h.adminQuery("SELECT count(*)::int AS n FROM admin_operations WHERE verb = 'recover'"))[0].n).toBe(opsBefore);
    for (const tenant of ['rc1', 'rc2', 'rc3']) expect((await execa('docker', ['ps', '-aq', '--filter', `label=com.docker.compose.project=${project(tenant)}`])).stdout.trim(), tenant).toBe('');
    expect((await h.adminQuery("SELECT id, status FROM admin_customers WHERE id IN ('rc1', 'rc2', 'rc3') ORDER BY id")).map((r) => r.status)).toEqual(['active', 'stopped', 'active']);

    const started = performance.now();
    const r = await timed('recover', () => h.cli(['recover', '--json'], { timeoutMs: 400_000 }));
    const minutes = (performance.now() - started) / 60_000;
    expect(r.exitCode, r.why).toBe(0);
    const result = r.json();
    expect(result.adminDatabase).toBe('already-restored');
    expect(result.snapshot.id.startsWith(goodSnapshot), 'the complete snapshot, not the newer cut-off one').toBe(true);
    expect(Object.fromEntries(result.tenants.map((t: any) => [t.id, t.outcome]))).toEqual({ rc1: 'recovered', rc2: 'recovered', rc3: 'recovered' });
    // rc1 from its physical backup (cluster and Redis) taken after the admin snapshot (found in the repository, recorded now), the killed one passed over; rc2 from the admin record.
    const rc1Out = result.tenants.find((t: any) => t.id === 'rc1');
    expect(rc1Out).toMatchObject({ backup: rc1Physical, source: 'repository', method: 'physical' });
    expect(rc1Out.newerThanAdminSnapshotMs).toBeGreaterThan(0);
    expect(rc1Out.passedOver).toEqual([{ backup: cutBackup, reason: expect.stringMatching(/no manifest\.json/) }]);
    // Every backup considered, with what recover made of it: the killed one passed over (before reading), the physical one chosen, older ones (the later logical one too) not read.
    expect(rc1Out.considered.find((c: any) => c.decision === 'chosen')).toMatchObject({ backup: rc1Physical, origin: 'repository', method: 'physical', reason: expect.stringMatching(/newest that verifies, physical/) });
    expect(rc1Out.considered).toContainEqual({ backup: cutBackup, decision: 'passed-over', reason: expect.stringMatching(/no manifest\.json/) });
    expect(rc1Out.considered).toContainEqual(expect.objectContaining({ backup: laterBackup, decision: 'not-read' }));
    const rc2Out = result.tenants.find((t: any) => t.id === 'rc2');
    expect(rc2Out.source).toBe('admin-record');
    expect(rc2Out.newerThanAdminSnapshotMs).toBeLessThan(0);
    expect(rc2Out.method).toBe('logical');
    // rc3 from its physical backup, the newest; its older logical one not read.
    const rc3Out = result.tenants.find((t: any) => t.id === 'rc3');
    expect(rc3Out).toMatchObject({ backup: rc3Physical, method: 'physical', source: 'admin-record' });
    expect(rc3Out.considered.find((c: any) => c.decision === 'chosen')).toMatchObject({ backup: rc3Physical, method: 'physical', reason: expect.stringMatching(/newest that verifies, physical/) });
    expect(rc3Out.considered).toContainEqual(expect.objectContaining({ backup: rc3Logical, decision: 'not-read' }));
    expect(await h.adminQuery('SELECT state, repository_display FROM admin_backups WHERE id = $1', [rc1Physical])).toEqual([{ state: 'succeeded', repository_display: sftp.url }]);
    expect(await h.adminQuery("SELECT count(*)::int AS n FROM admin_audit_logs WHERE action = 'backup.found-by-recover' AND new_values->>'backup' = $1", [rc1Physical])).toEqual([{ n: 1 }]);
    console.log(`recover: ${result.recovered} tenants in ${minutes.toFixed(2)} min: ${(result.recovered / minutes).toFixed(1)} tenants per minute (the command says ${result.tenantsPerMinute})`);

    // Every row identical; rc2 is stopped again as it was, so only its database container is started to be read.
    expect(await tableDigests('rc1')).toEqual(before.rc1);
    // rc1's Redis as its physical backup had it, and nothing the restore set aside left in its volume or the cluster's.
    expect(await redisCli('rc1', 'GET drill:physical')).toBe('kept-by-physical');
    const rc1Redis = await containerOf(project('rc1'), 'redis');
    expect((await execa('docker', ['exec', rc1Redis, 'ls', '-A', '/data'])).stdout.split('\n').filter((f) => /^\.tenantctl-(replaced|restore|restored)-/.test(f))).toEqual([]);
    expect((await execa('docker', ['exec', await containerOf(project('rc1'), 'db'), 'ls', '-A', '/var/lib/postgresql/data'])).stdout.split('\n').filter((f) => f.startsWith('.tenantctl-'))).toEqual([]);
    const [rc2] = await h.adminQuery('SELECT status FROM admin_customers WHERE id = $1', ['rc2']);
    expect(rc2.status).toBe('stopped');
    const rc2Running = (await execa('docker', ['ps', '-q', '--filter', `label=com.docker.compose.project=${project('rc2')}`])).stdout.trim();
    expect(rc2Running, 'a stopped tenant runs no container').toBe('');
    const rc2Db = (await execa('docker', ['ps', '-aq', '--filter', `label=com.docker.compose.project=${project('rc2')}`, '--filter', 'label=com.docker.compose.service=db'])).stdout.trim();
    await execa('docker', ['start', rc2Db], { timeout: 60_000 });
    await waitForDb('rc2');
    expect(await tableDigests('rc2')).toEqual(before.rc2);
    // rc3's every row as its physical backup had them (the rows after its logical one too), proven ready on its own
    // passwords (readiness logs in with them), the empty cluster provision made and the restore replaced dropped.
    expect(await tableDigests('rc3')).toEqual(before.rc3);
    expect((await execa('docker', ['exec', await containerOf(project('rc3'), 'db'), 'ls', '-A', '/var/lib/postgresql/data'])).stdout.split('\n').filter((f) => f.startsWith('.tenantctl-'))).toEqual([]);
    expect((await dockerObjectsOf('rc3')).helpers).toBe('');

    // The front door is back (a new local CA: the old one was in the lost state dir) and the key opens the tenant's API through it.
    expect(result.frontdoor.state).toBe('serving');
    expect(await throughDoor('rc1', apiKey)).toBe(200);
    expect(await throughDoor('rc1', 'tk_live_' + 'x'.repeat(32))).toBe(401);
    // The API key is still valid: its hash on record, not revoked (what the gateway checks).
    const keys = await h.adminQuery('SELECT revoked_at FROM admin_api_keys WHERE customer_id = $1 AND key_hash = $2', ['rc1', hashApiKey(apiKey)]);
    expect(keys).toHaveLength(1);
    expect(keys[0].revoked_at).toBeNull();
    // No key of provision's is left valid beside the customer's own.
    const valid = await h.adminQuery('SELECT count(*)::int AS n FROM admin_api_keys WHERE customer_id = $1 AND revoked_at IS NULL', ['rc1']);
    const keysBefore = 2; // provision's initial key and the drill's
    expect(valid[0].n).toBe(keysBefore);

    // Each tenant once: one recover completed per tenant in this run, the killed one undone, one stack each.
    const ops = await h.adminQuery("SELECT customer_id, state FROM admin_operations WHERE verb = 'recover' ORDER BY id");
    expect(ops.filter((o) => o.state === 'completed').map((o) => o.customer_id).sort()).toEqual(['rc1', 'rc2', 'rc3']);
    expect(ops.filter((o) => o.state === 'running')).toEqual([]);
    for (const id of ['rc1', 'rc2', 'rc3']) {
      const dbs = (await execa('docker', ['ps', '-aq', '--filter', `label=com.docker.compose.project=${project(id)}`, '--filter', 'label=com.docker.compose.service=db'])).stdout.split('\n').filter(Boolean);
      expect(dbs, id).toHaveLength(1);
    }

    // Run again: nothing is made twice.
    const again = await h.cli(['recover', '--json']);
    expect(again.exitCode, again.why).toBe(0);
    expect(again.json().tenants.map((t: any) => t.outcome)).toEqual(['already-recovered', 'already-recovered', 'already-recovered']);

    // The repository is plain restic: restic itself lists the admin snapshot.
    const list = JSON.parse(await restic(['snapshots', '--json', '--tag', 'kind=admin']));
    expect(list.map((s: any) => s.id)).toContain(result.snapshot.id);
  }, 900_000);

  it('restore --from rc3\'s physical backup --as rc4 once rc3 is deprovisioned: made from the backup alone, every row, proven ready', async () => {
    const gone = await h.cli(['deprovision', 'rc3', '--yes', '--json']);
    expect(gone.exitCode, gone.why).toBe(0);
    const r = await timed('restore physical --as', () => h.cli(['restore', 'rc3', '--from', rc3Physical, '--as', 'rc4', '--json']));
    expect(r.exitCode, r.why).toBe(0);
    expect(r.json()).toMatchObject({ id: 'rc4', source: 'rc3', method: 'physical', mode: 'new' });
    // Its template, plan and profiles from the backup's tenant.json (rc3 is gone).
    expect(await h.adminQuery("SELECT status, template, plan FROM admin_customers WHERE id = 'rc4'")).toEqual([{ status: 'active', template: 'pgonly', plan: 'starter' }]);
    expect(await tableDigests('rc4')).toEqual(before.rc3);
  }, 300_000);
});
