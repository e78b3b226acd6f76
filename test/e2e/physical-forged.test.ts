// A forged physical backup (reviews C1, C2: the repository is not trusted; anyone with its password
// can write a snapshot tagged for a tenant). The simplest forgery is a real one: a tenant of a
// PostgreSQL-only template (pgonly-template.ts) is given, through its superuser's socket, what a
// hostile cluster would bring: ALTER SYSTEM archive_mode on with an archive_command writing a file, a
// `host all all all trust` line first in pg_hba.conf, a .so-looking file at the data directory's top,
// its app role CREATEDB, a known password on its bootstrap superuser, a session_preload_libraries for
// the superuser's logins into the tenant's database, and an extra SUPERUSER LOGIN role; then backed up physically (file level, into a local restic repository) and restored --as a
// new tenant:
//   - with the extra role and the preload setting: refused (exit 2, both named), undone: the new tenant gone, nothing of
//     it left on Docker, the operation undone;
//   - without them: restored with every row, and none of the rest came along: no file written by the
//     archive_command, the live configuration (archive_mode off, no trust line), no stray file, the
//     superuser without a password, the app role NOCREATEDB, the source's APP password refused over
//     TCP while the new tenant's own works.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { containerOf, createHarness, dockerObjectsWithPrefix, stopwatch, type Harness } from './harness.js';
import { writePgOnlyTemplate } from './pgonly-template.js';

let h: Harness;
const timings: Record<string, number> = {};
const timed = stopwatch(timings);
const source = 'pf1';
const project = (id: string) => `${h.prefix}-${id}`;
const hostileCommand = 'id > /var/lib/postgresql/data/pwned';

/** psql as the cluster's superuser over its socket (what only a host operator, or a forger, has). */
async function su(id: string, sql: string, database = 'tenant'): Promise<string> {
  const db = await containerOf(project(id), 'db');
  // The forgery's session_preload_libraries for the superuser in database tenant is overridden here as tenantctl overrides it.
  const r = await execa('docker', ['exec', '-e', 'PGOPTIONS', db, 'psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', '/run/postgresql', '-U', 'postgres', '-d', database, '-c', sql], { env: { PGOPTIONS: '-c session_preload_libraries=' }, timeout: 60_000, reject: false });
  if (r.exitCode !== 0) throw new Error(`psql on ${id} failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** A login over TCP inside the tenant's db container (pg_hba's host lines), its exit code and stderr. */
async function tcpLogin(id: string, role: string, password: string) {
  const db = await containerOf(project(id), 'db');
  return execa('docker', ['exec', '-e', 'PGPASSWORD', db, 'psql', '-X', '-A', '-t', '-h', '127.0.0.1', '-U', role, '-d', 'tenant', '-c', 'SELECT 1'], { env: { PGPASSWORD: password }, timeout: 60_000, reject: false });
}

const rows = (id: string) => su(id, "SELECT count(*) || ' ' || md5(string_agg(id || ':' || body, ',' ORDER BY id)) FROM public.notes");

beforeAll(async () => {
  const lane = (name: string, fallback: string) => process.env[name] ?? fallback;
  h = await createHarness('physforged', {
    TENANTCTL_HEALTH_DEADLINE: '120',
    TENANTCTL_APP_PORTS: lane('TENANTCTL_APP_PORTS', '4700-4719'), TENANTCTL_DB_PORTS: lane('TENANTCTL_DB_PORTS', '5700-5719'), TENANTCTL_REDIS_PORTS: lane('TENANTCTL_REDIS_PORTS', '6700-6719'),
  });
  const repo = path.join(h.dir, 'repo');
  const passwordFile = path.join(h.dir, 'repo-password');
  writeFileSync(passwordFile, 'correct horse battery staple forged\n', { mode: 0o600 });
  chmodSync(passwordFile, 0o600);
  Object.assign(h.env, { TENANTCTL_BACKUP_REPOSITORY: repo, TENANTCTL_BACKUP_REPOSITORY_PASSWORD_FILE: passwordFile });
  const init = await execa('restic', ['init'], { env: { RESTIC_REPOSITORY: repo, RESTIC_PASSWORD_FILE: passwordFile }, timeout: 60_000, reject: false });
  if (init.exitCode !== 0) throw new Error(init.stderr);
  h.env.TENANTCTL_TEMPLATES_DIR = writePgOnlyTemplate(h.dir, h.env);
  const p = await timed('provision', () => h.cli(['provision', source, '--plan', 'starter', '--template', 'pgonly', '--json']));
  if (p.exitCode !== 0) throw new Error(p.why);
  await su(source, `CREATE TABLE public.notes (id int PRIMARY KEY, body text NOT NULL);
    INSERT INTO public.notes SELECT g, md5(g::text) FROM generate_series(1, 500) g;`);
  // The forgery, through the superuser's socket (not reloaded: the source itself runs on as it was).
  await su(source, "ALTER SYSTEM SET archive_mode = 'on'", 'postgres');
  await su(source, `ALTER SYSTEM SET archive_command = '${hostileCommand}'`, 'postgres');
  await su(source, 'ALTER ROLE tenant_app CREATEDB', 'postgres');
  await su(source, "ALTER ROLE postgres PASSWORD 'forger-knows-this'", 'postgres');
  await su(source, "CREATE ROLE intruder SUPERUSER LOGIN PASSWORD 'intruder-pw'", 'postgres');
  // A library loaded at the superuser's login into database tenant (one that is not there: a login that does not override it fails).
  await su(source, "ALTER ROLE postgres IN DATABASE tenant SET session_preload_libraries = 'tenantctl_forged_lib'", 'postgres');
  const db = await containerOf(project(source), 'db');
  const forge = await execa('docker', ['exec', db, 'sh', '-c', 'cd "$PGDATA" && { echo "host all all all trust"; cat pg_hba.conf; } > hba.new && cat hba.new > pg_hba.conf && rm hba.new && printf "\\177ELF" > evil.so'], { timeout: 60_000, reject: false });
  if (forge.exitCode !== 0) throw new Error(forge.stderr);
}, 600_000);

afterAll(async () => {
  console.log(`physical-forged e2e timings (ms): ${JSON.stringify(timings)}`);
  await h?.cleanup();
});

describe('a forged physical backup', () => {
  it('with an extra SUPERUSER LOGIN role: refused (exit 2), the new tenant undone, nothing left', async () => {
    const b = await timed('backup 1', () => h.cli(['backup', source, '--physical', '--json']));
    expect(b.exitCode, b.why).toBe(0);
    const r = await timed('restore refused', () => h.cli(['restore', source, '--from', b.json().id, '--as', 'pf2', '--json']));
    expect(r.exitCode, r.why).toBe(2);
    expect(r.json().error.message).toMatch(/is unusable: the restored cluster holds what a tenant's own cannot \(role intruder is LOGIN SUPERUSER/);
    // Read with its logins overriding the forged preload (else reading database tenant would have failed), and refused for it too.
    expect(r.json().error.message).toMatch(/settings set session_preload_libraries, which only a superuser may/);
    // Undone: the tenant provisioned for it removed, its operation closed as undone, nothing on Docker.
    const [row] = await h.adminQuery("SELECT status FROM admin_customers WHERE id = 'pf2'");
    expect(row?.status ?? 'none').toMatch(/^(deprovisioned|none)$/);
    expect(await h.adminQuery("SELECT state FROM admin_operations WHERE customer_id = 'pf2' AND verb = 'pitr-restore'")).toEqual([{ state: 'undone' }]);
    const left = await dockerObjectsWithPrefix(project('pf2'));
    expect(left).toEqual({ containers: [], networks: [], volumes: [] });
  }, 300_000);

  it('without it: every row, and nothing else of the forgery came along', async () => {
    await su(source, 'DROP ROLE intruder', 'postgres');
    await su(source, 'ALTER ROLE postgres IN DATABASE tenant RESET session_preload_libraries', 'postgres');
    const oldApp = (await h.cli(['secrets', source, '--json'])).json().secrets.APP_DB_PASSWORD as string;
    const b = await timed('backup 2', () => h.cli(['backup', source, '--physical', '--json']));
    expect(b.exitCode, b.why).toBe(0);
    const r = await timed('restore', () => h.cli(['restore', source, '--from', b.json().id, '--as', 'pf3', '--json']));
    expect(r.exitCode, r.why).toBe(0);
    expect(await rows('pf3')).toBe(await rows(source));
    // The archive_command never ran; the configuration is the new tenant's own.
    const db = await containerOf(project('pf3'), 'db');
    // A finished WAL segment: with the forged archive_mode the archiver would run the command now.
    await su('pf3', 'CREATE TABLE public.tick (n int); DROP TABLE public.tick; SELECT pg_switch_wal()');
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const top = (await execa('docker', ['exec', db, 'ls', '-A', '/var/lib/postgresql/data'])).stdout.split('\n');
    expect(top).not.toContain('pwned');
    expect(top).not.toContain('evil.so');
    // tenantctl's own files: only the incarnation id the restore wrote for the new tenant (a physical
    // copy begins its own history: incarnation.ts), none of the backup's.
    expect(top.filter((f) => f.startsWith('tenantctl-') || f.startsWith('.tenantctl-'))).toEqual(['tenantctl-incarnation']);
    const incarnation = (await execa('docker', ['exec', db, 'cat', '/var/lib/postgresql/data/tenantctl-incarnation'])).stdout;
    expect(incarnation).toMatch(/^[0-9a-f]{32}$/);
    expect(await su('pf3', 'SHOW archive_mode')).toBe('off');
    expect(await su('pf3', 'SHOW archive_command')).not.toContain('pwned');
    expect(await su('pf3', "SELECT count(*) FROM pg_hba_file_rules WHERE auth_method = 'trust' AND type <> 'local'")).toBe('0');
    // Roles as provision leaves them: the superuser without a password, the app role without CREATEDB.
    expect(await su('pf3', "SELECT rolpassword IS NULL FROM pg_authid WHERE rolname = 'postgres'")).toBe('t');
    expect(await su('pf3', "SELECT rolcreatedb FROM pg_roles WHERE rolname = 'tenant_app'")).toBe('f');
    // Over TCP: the source's APP password and the forger's superuser password refused, the new tenant's own accepted.
    const newApp = (await h.cli(['secrets', 'pf3', '--json'])).json().secrets.APP_DB_PASSWORD as string;
    expect(newApp).not.toBe(oldApp);
    const old = await tcpLogin('pf3', 'tenant_app', oldApp);
    expect(old.exitCode).not.toBe(0);
    expect(old.stderr).toMatch(/password authentication failed/);
    const forger = await tcpLogin('pf3', 'postgres', 'forger-knows-this');
    expect(forger.stderr).toMatch(/password authentication failed/);
    const own = await tcpLogin('pf3', 'tenant_app', newApp);
    expect(own.exitCode, own.stderr).toBe(0);
    // The source's own configuration was the forged one: the backup carried it (the guard is what kept it out).
    expect(await su(source, 'SELECT count(*) FROM pg_hba_file_rules WHERE auth_method = \'trust\' AND type = \'host\'')).toBe('1');
  }, 300_000);
});
