import { describe, expect, it } from 'vitest';
import { adminSnapshots, type AdminSnapshot } from '../../src/recover/restic-admin.js';
import { chooseSnapshot } from '../../src/recover/recover.js';
import { refusalOfDump } from '../../src/recover/admin-restore.js';
import { DumpGuard } from '../../src/recover/dump-guard.js';
import type { Repository } from '../../src/repository/restic.js';
import { backupCandidates, describeAge, fileOf } from '../../src/recover/backup-candidates.js';
import type { Snapshot } from '../../src/backups/in-repository.js';
import type { BackupRecord } from '../../src/backups/store.js';
import { entryMismatch, parseManifest, sha256Of } from '../../src/backups/manifest.js';

// The pure parts of admin-backup and recover: which admin snapshot is restored, and what of a
// snapshot's dump reaches psql (a tampered or cut-off one commits nothing).

const fakeRepo = (answer: unknown, seen: string[][] = []): Repository => ({
  location: { url: '/srv/repo', display: '/srv/repo', backend: 'local' },
  run: async () => ({ stdout: '', stderrTail: '' }),
  json: async <T>(args: readonly string[]) => {
    seen.push([...args]);
    return answer as T;
  },
});

describe('admin snapshots', () => {
  it('asks restic for kind=admin snapshots without a lock and lists them newest first', async () => {
    const seen: string[][] = [];
    const list = await adminSnapshots(fakeRepo([
      { id: 'a'.repeat(64), short_id: 'aaaaaaaa', time: '2026-12-05T10:00:00Z', hostname: 'web1', tags: ['kind=admin'] },
      { id: 'b'.repeat(64), short_id: 'bbbbbbbb', time: '2026-12-06T10:00:00Z', hostname: 'web1', tags: ['kind=admin', 'frontdoor=acme'] },
      { id: 'c'.repeat(64), short_id: 'cccccccc', time: '2026-12-04T10:00:00Z', hostname: 'web1' },
    ], seen));
    expect(list.map((s) => s.shortId)).toEqual(['bbbbbbbb', 'aaaaaaaa', 'cccccccc']);
    expect(list[0]!.tags).toContain('frontdoor=acme');
    expect(list[2]!.tags).toEqual([]);
    expect(seen).toEqual([['snapshots', '--no-lock', '--tag', 'kind=admin']]);
  });

  it('an empty repository (restic prints null) has none', async () => {
    expect(await adminSnapshots(fakeRepo(null))).toEqual([]);
  });
});

const snap = (id: string, time: string, host = 'web1'): AdminSnapshot => ({ id: id.repeat(64 / id.length), shortId: id.repeat(8 / id.length), time, host, tags: ['kind=admin'] });

describe('which admin snapshot recover restores', () => {
  const now = Date.parse('2026-12-06T12:00:00Z');
  const a = snap('a', '2026-12-06T10:00:00Z');
  const b = snap('b', '2026-12-05T10:00:00Z');

  it('the newest of one host, unless --snapshot names another', () => {
    expect(chooseSnapshot([a, b], undefined, now, 'r').id).toBe(a.id);
    expect(chooseSnapshot([a, b], 'bbbbbbbb', now, 'r').id).toBe(b.id);
    expect(() => chooseSnapshot([a, b], 'cccccccc', now, 'r')).toThrow(/no admin snapshot cccccccc/);
    expect(() => chooseSnapshot([], undefined, now, 'r')).toThrow(/no admin snapshot in r/);
  });

  it('refuses to choose by itself among hosts, or a snapshot dated in the future', () => {
    const other = snap('c', '2026-12-06T11:00:00Z', 'intruder');
    expect(() => chooseSnapshot([other, a], undefined, now, 'r')).toThrow(/2 hosts \(intruder, web1\).*--snapshot/);
    expect(chooseSnapshot([other, a], 'aaaa', now, 'r').host).toBe('web1');
    const future = snap('d', '2027-01-01T00:00:00Z');
    expect(() => chooseSnapshot([future, a], undefined, now, 'r')).toThrow(/dated in the future.*dddddddd/);
  });
});

const goodDump = [
  '--',
  '-- PostgreSQL database dump',
  '--',
  '\\restrict AbC123',
  'SET statement_timeout = 0;',
  "SELECT pg_catalog.set_config('search_path', '', false);",
  'CREATE FUNCTION "public"."admin_register_implicit_host"() RETURNS "trigger"',
  '    LANGUAGE "plpgsql"',
  '    AS $$ BEGIN INSERT INTO admin_hosts (name) VALUES (NEW.host) ON CONFLICT DO NOTHING; RETURN NEW; END $$;',
  // A function body is kept verbatim, comments and messages too (026's guard): words in them are no statements.
  'CREATE FUNCTION "public"."admin_agent_customer_guard"() RETURNS "trigger"',
  '    LANGUAGE "plpgsql"',
  // A function's own setting (pg_dump writes it on a line of its own): no session SET.
  "    SET \"search_path\" TO 'pg_catalog', 'public', 'pg_temp'",
  '    AS $$',
  'BEGIN',
  "    -- role's DELETE FROM admin_allocations would delete nothing.",
  "    IF current_user = 'tenantctl_agent' THEN RAISE EXCEPTION 'the agent role may not reset or copy this'; END IF; -- no COMMIT here",
  "    RETURN NEW;",
  'END $$;',
  'CREATE TABLE "public"."admin_settings" ("key" "text" NOT NULL, "value" "text" NOT NULL, "role" "text");',
  'COPY "public"."admin_settings" ("key", "value", "updated_at") FROM stdin;',
  'master_key_check\tv1.sealed\\\\value\t2026-12-06',
  'note\t\\! sh -c nothing: data, not a command; COMMIT ROLE PROGRAM\t2026-12-06',
  '\\.',
  'CREATE TRIGGER "t" AFTER INSERT ON "public"."admin_customers" FOR EACH ROW EXECUTE FUNCTION "public"."admin_register_implicit_host"();',
  'GRANT SELECT ON TABLE "public"."admin_settings" TO "tenantctl_agent";',
  'GRANT EXECUTE ON FUNCTION "public"."f"(bigint) TO "tenantctl_agent";',
  '--',
  '-- PostgreSQL database dump complete',
  '--',
  '\\unrestrict AbC123',
  '',
].join('\n');

async function guarded(text: string, chunk = 7): Promise<{ guard: DumpGuard; passed: string }> {
  const guard = new DumpGuard();
  let passed = '';
  guard.on('data', (c: Buffer) => { passed += c.toString('utf8'); });
  const ended = new Promise((resolve) => guard.once('end', resolve));
  for (let i = 0; i < text.length; i += chunk) guard.write(Buffer.from(text.slice(i, i + chunk)));
  guard.end();
  await ended;
  return { guard, passed };
}

describe('the dump guard between a snapshot and psql', () => {
  it('passes a pg_dump dump whole, read in any chunks, with its master-key check and its closing line', async () => {
    const { guard, passed } = await guarded(goodDump);
    expect(guard.refused).toBeUndefined();
    expect(passed).toBe(goodDump);
    expect(guard.masterKeyCheck).toBe('v1.sealed\\value');
    expect(guard.complete).toBe(true);
    expect(refusalOfDump(guard, 'aaaaaaaa')).toBeUndefined();
  });

  it.each([
    ['\\! sh -c "id > /tmp/owned"', /meta-command/],
    ['\\copy x to /tmp/x', /meta-command/],
    ["COPY \"public\".\"x\" TO PROGRAM 'sh';", /program/],
    ["COPY \"public\".\"x\" (\"a\") FROM '/etc/passwd';", /copies/],
    ['COMMIT;', /transaction/],
    ['  rollback;', /transaction/],
    ['ALTER ROLE "tenantctl_agent" SUPERUSER;', /roles/],
    ['CREATE ROLE "x" LOGIN SUPERUSER;', /roles/],
    ['SET SESSION AUTHORIZATION "tenantctl_agent";', /roles/],
    ["ALTER SYSTEM SET archive_command = 'sh';", /settings/],
    ['CREATE EXTENSION "plpython3u";', /admin schema never has/],
    ["    LANGUAGE \"c\" AS '/lib/x86_64-linux-gnu/libc.so.6', 'system';", /language/],
    ["DO $$ BEGIN EXECUTE 'CO' || 'PY x FROM PRO' || 'GRAM sh'; END $$;", /anonymous|dynamic/],
    ["    EXECUTE format('SELECT %s', 1);", /dynamic/],
    ["SELECT pg_read_file('/etc/shadow');", /server files/],
    // E'' strings take backslash escapes: E'\'' is one quote, so the string goes on to the next quote.
    ["SELECT E'\\''; SET ROLE \"postgres\"; SELECT '';", /roles/],
    ["SELECT e'\\\\', E'\\''; ALTER USER \"tenantctl_agent\" SUPERUSER; --'", /roles/],
    ['ALTER USER "tenantctl_agent" SUPERUSER;', /roles/],
    ['CREATE USER "x" SUPERUSER;', /roles/],
    ['ALTER GROUP "pg_write_server_files" ADD USER "tenantctl_agent";', /roles|server/],
    ['GRANT "postgres" TO "tenantctl_agent";', /roles/],
    ['GRANT "pg_execute_server_program" TO "tenantctl_agent";', /roles|server/],
    ['GRANT pg_execute_server_program TO tenantctl_agent; -- ON', /roles|server/],
    // A comment or a dollar quote hides no quote from the server, so none from the guard either.
    ["SELECT 1 /* ' */; SET ROLE \"postgres\"; /* ' */", /roles/],
    ["SELECT $x$ it's $x$; SET ROLE \"postgres\"; SELECT 'a';", /roles/],
    ['SET standard_conforming_strings = off;', /how the dump is read/],
    ["SET client_encoding = 'SJIS';", /how the dump is read/],
    ["SET NAMES 'SJIS';", /how the dump is read/],
    ['SET "standard_conforming_strings" = off;', /how the dump is read/],
    ["SELECT pg_catalog.set_config('standard_' || 'conforming_strings', 'off', false);", /how the dump is read/],
    ["SELECT pg_catalog.\"set_config\"('standard_conforming_strings', 'off', false);", /how the dump is read/],
    ['SET U&"standard\\005fconforming_strings" = off;', /how the dump is read/],
  ])('refuses %s and passes nothing from it on', async (line, why) => {
    const text = goodDump.replace('GRANT SELECT', `${line}\nGRANT SELECT`);
    const { guard, passed } = await guarded(text);
    expect(guard.refused).toMatch(why);
    expect(passed).not.toContain(line);
    expect(passed).not.toContain('dump complete');
    expect(guard.complete).toBe(false);
    expect(refusalOfDump(guard, 'aaaaaaaa')?.message).toMatch(/is not a dump tenantctl admin-backup writes/);
  });

  it('a string opened on one line goes on over the next: what follows its end is read as statements', async () => {
    const split = goodDump.replace('GRANT SELECT', "SELECT 'open\n'; SET ROLE \"postgres\"; SELECT '\nGRANT SELECT");
    const { guard, passed } = await guarded(split);
    expect(guard.refused).toMatch(/line \d+ changes roles/);
    expect(passed).not.toContain('SET ROLE');
    // A COPY line inside an open string is no COPY: the lines after it are not let through as data.
    const fakeCopy = goodDump.replace('GRANT SELECT', "SELECT 'x\nCOPY \"public\".\"admin_settings\" (\"key\") FROM stdin;\n'; SET ROLE \"postgres\";\n\\.\nGRANT SELECT");
    expect((await guarded(fakeCopy)).guard.refused).toMatch(/changes roles/);
  });

  it('a dump cut off (an admin-backup killed half-way) is not complete, inside COPY data or between statements', async () => {
    const atCopy = goodDump.slice(0, goodDump.indexOf('note\t'));
    const { guard } = await guarded(atCopy);
    expect(guard.refused).toBeUndefined();
    expect(guard.complete).toBe(false);
    expect(refusalOfDump(guard, 'aaaaaaaa')?.message).toMatch(/cut off/);
    const midLine = goodDump.slice(0, goodDump.indexOf('GRANT SELECT') + 8);
    expect((await guarded(midLine)).guard.complete).toBe(false);
    const noCheck = goodDump.replace(/master_key_check/, 'other');
    expect(refusalOfDump((await guarded(noCheck)).guard, 'aaaaaaaa')?.message).toMatch(/no master-key check/);
  });
});

describe('which backup of a tenant recover restores (the repository and the admin record)', () => {
  const tenant = 'acme';
  const host = 'web1';
  let n = 0;
  const s = (backup: string, file: string, time: string, over: Partial<Snapshot> = {}): Snapshot => {
    n += 1;
    const id = n.toString(16).padStart(64, '0');
    return { id, short_id: id.slice(0, 8), time, paths: [`/tenantctl/${tenant}/${file}`], hostname: host, tags: [`tenant=${tenant}`, `backup=${backup}`, 'tenantctl'], ...over };
  };
  /** A whole backup's snapshots: its dump, tenant.json and (last) its manifest. */
  const whole = (backup: string, hour: number, over: Partial<Snapshot> = {}) => ['db.dump', 'tenant.json', 'manifest.json'].map((f, i) => s(backup, f, `2026-12-06T${String(hour).padStart(2, '0')}:0${i}:00Z`, over));
  const row = (id: string, state: BackupRecord['state'], snapshots: Record<string, string>, extra: Partial<BackupRecord> = {}) => ({
    id, tenant, host, state, reason: null, repository: 'ab'.repeat(8), directory: `repository:${id}`, snapshots, manifestSha256: 'f'.repeat(64),
    startedAt: '2026-12-06T00:00:00.000Z', finishedAt: null, ...extra,
  });
  const ids = (snaps: Snapshot[]) => Object.fromEntries(snaps.map((x) => [x.paths[0]!.split('/').pop()!, x.id]));

  it('a backup in the repository newer than the admin record comes first; the recorded one is next', () => {
    const old = whole('acme-1', 8);
    const fresh = whole('acme-2', 13);
    const { candidates, skipped } = backupCandidates({ tenant, host, snapshots: [...old, ...fresh], recorded: [row('acme-1', 'succeeded', ids(old))] });
    expect(candidates.map((c) => [c.backup, c.origin])).toEqual([['acme-2', 'repository'], ['acme-1', 'admin-record']]);
    expect(candidates[0]!.time).toBe('2026-12-06T13:02:00Z');
    expect(candidates[0]!.manifestSha256).toBeNull();
    expect(candidates[1]!.manifestSha256).toBe('f'.repeat(64));
    expect(candidates[0]!.snapshots).toEqual(ids(fresh));
    expect(skipped).toEqual([]);
  });

  it('a run cut off before its manifest, and one recorded as failed or pruned, are skipped with a reason', () => {
    const cut = whole('acme-3', 14).slice(0, 2);
    const failed = whole('acme-4', 15);
    const pruned = whole('acme-5', 16);
    const good = whole('acme-2', 13);
    const { candidates, skipped } = backupCandidates({
      tenant, host, snapshots: [...cut, ...failed, ...pruned, ...good],
      recorded: [row('acme-4', 'failed', ids(failed), { reason: 'pg_dump exited 1' }), row('acme-5', 'pruned', ids(pruned))],
    });
    expect(candidates.map((c) => c.backup)).toEqual(['acme-2']);
    expect(Object.fromEntries(skipped.map((x) => [x.backup, x.reason]))).toEqual({
      'acme-3': expect.stringMatching(/no manifest\.json.*never finished/),
      'acme-4': expect.stringMatching(/recorded as failed \(pg_dump exited 1\)/),
      'acme-5': expect.stringMatching(/pruned/),
    });
  });

  it('a backup running when the admin snapshot was taken is a repository candidate once its manifest is there', () => {
    const running = whole('acme-6', 12);
    const { candidates } = backupCandidates({ tenant, host, snapshots: running, recorded: [row('acme-6', 'running', ids(running.slice(0, 1)))] });
    expect(candidates.map((c) => [c.backup, c.origin, c.manifestSha256])).toEqual([['acme-6', 'repository', null]]);
  });

  it('only snapshots tenantctl wrote for this tenant on its host count', () => {
    const others = [
      ...whole('acme-7', 20, { hostname: 'web2' }),
      ...whole('acme-8', 21, { tags: [`tenant=${tenant}`, 'backup=acme-8'] }),
      ...whole('acme-9', 22, { tags: [`tenant=${tenant}`, 'backup=acme-9', 'tenantctl', 'kind=wal'] }),
      ...whole('other-1', 23, { tags: [`tenant=${tenant}`, 'backup=other-1', 'tenantctl'] }),
      ...whole('acme-10', 23).map((x) => ({ ...x, paths: [`/tenantctl/other/${x.paths[0]!.split('/').pop()}`] })),
      ...whole('acme-11', 23).map((x) => ({ ...x, paths: ['/a', '/b'] })),
    ];
    const good = whole('acme-2', 13);
    const { candidates, skipped } = backupCandidates({ tenant, host, snapshots: [...others, ...good], recorded: [] });
    expect(candidates.map((c) => c.backup)).toEqual(['acme-2']);
    expect(skipped).toEqual([{ backup: 'acme-7', reason: 'written as restic host web2, which the admin database does not know' }]);
    expect(fileOf({ paths: ['tenantctl/acme/db.dump'] }, tenant)).toBe('db.dump');
    expect(fileOf({ paths: ['/tenantctl/acme/x/db.dump'] }, tenant)).toBeUndefined();
  });

  it('two snapshots of one file are no backup unless its row names one; a recorded snapshot gone from the repository is said', () => {
    const twice = [...whole('acme-12', 18), s('acme-12', 'db.dump', '2026-12-06T18:05:00Z')];
    const named = [...whole('acme-13', 17), s('acme-13', 'db.dump', '2026-12-06T17:05:00Z')];
    const gone = whole('acme-14', 16);
    const goneRow = row('acme-14', 'succeeded', { ...ids(gone), 'redis.rdb': 'e'.repeat(64) });
    const vanished = row('acme-15', 'succeeded', { 'db.dump': 'd'.repeat(64) });
    const { candidates, skipped } = backupCandidates({
      tenant, host, snapshots: [...twice, ...named, ...gone],
      recorded: [row('acme-13', 'succeeded', ids(named.slice(0, 3))), goneRow, vanished],
    });
    expect(candidates.map((c) => [c.backup, c.snapshots['db.dump']])).toEqual([['acme-13', named[0]!.id]]);
    expect(Object.fromEntries(skipped.map((x) => [x.backup, x.reason]))).toEqual({
      'acme-12': '2 snapshots of db.dump carry its tag',
      'acme-14': 'its recorded snapshot of redis.rdb is not in the repository',
      'acme-15': expect.stringMatching(/none of its snapshots .* is in the repository/),
    });
  });

  it('one an earlier run of recover found and recorded is still from the repository', () => {
    const fresh = whole('acme-2', 13);
    const { candidates } = backupCandidates({ tenant, host, snapshots: fresh, recorded: [row('acme-2', 'succeeded', ids(fresh))], foundByRecover: new Set(['acme-2']) });
    expect(candidates.map((c) => [c.backup, c.origin, c.manifestSha256])).toEqual([['acme-2', 'repository', 'f'.repeat(64)]]);
  });

  it('a recorded folder backup is a candidate by its finish time', () => {
    const good = whole('acme-2', 13);
    const { candidates } = backupCandidates({
      tenant, host, snapshots: good,
      recorded: [row('acme-0', 'succeeded', {}, { repository: null, directory: '/var/backups/acme/acme-0', finishedAt: '2026-12-06T14:00:00.000Z' })],
    });
    expect(candidates.map((c) => [c.backup, c.directory])).toEqual([['acme-0', '/var/backups/acme/acme-0'], ['acme-2', undefined]]);
  });

  it('a backup written on another host the admin database knows (the tenant moved) is a candidate; one of an unknown host is passed over, said', () => {
    const moved = whole('acme-20', 19, { hostname: 'web2' });
    const stranger = whole('acme-21', 20, { hostname: 'web9' });
    const { candidates, skipped } = backupCandidates({ tenant, host, knownHosts: ['web1', 'web2'], snapshots: [...whole('acme-2', 13), ...moved, ...stranger], recorded: [] });
    expect(candidates.map((c) => c.backup)).toEqual(['acme-20', 'acme-2']);
    expect(skipped).toEqual([{ backup: 'acme-21', reason: 'written as restic host web9, which the admin database does not know' }]);
  });

  it('says how much newer than the admin snapshot', () => {
    expect(describeAge(2 * 3600_000 + 5 * 60_000)).toBe('2 h 5 min newer than the admin snapshot');
    expect(describeAge(-10 * 60_000)).toBe('10 min older than the admin snapshot');
  });
});

describe('a manifest read back from the repository', () => {
  const manifest = { format: 'tenantctl-backup/2', id: 'acme-2', tenant: 'acme', createdAt: '2026-12-06T13:02:00Z', host: 'web1', template: 'crm',
    pieces: { db: { kind: 'postgres', service: 'db', file: 'db.dump', image: 'pg', imageId: 'sha256:1' } },
    files: { 'db.dump': { bytes: 10, sha256: 'a'.repeat(64) }, 'tenant.json': { bytes: 2, sha256: 'b'.repeat(64) } } };
  it('is checked against its recorded hash, its format and its listed files; each file against its size and hash', () => {
    const text = JSON.stringify(manifest);
    expect(parseManifest('x', text, sha256Of(text)).id).toBe('acme-2');
    expect(() => parseManifest('x', text, 'c'.repeat(64))).toThrow(/differs from the one recorded/);
    expect(() => parseManifest('x', text.slice(0, 40))).toThrow(/not valid JSON/);
    expect(() => parseManifest('x', JSON.stringify({ ...manifest, files: { 'db.dump': manifest.files['db.dump'] } }))).toThrow(/lists no tenant\.json/);
    expect(() => parseManifest('x', JSON.stringify({ ...manifest, files: { ...manifest.files, '../x': manifest.files['db.dump'] } }))).toThrow(/outside the backup/);
    expect(entryMismatch('db.dump', manifest.files['db.dump'], { bytes: 10, sha256: 'a'.repeat(64) })).toBeUndefined();
    expect(entryMismatch('db.dump', manifest.files['db.dump'], { bytes: 9, sha256: 'a'.repeat(64) })).toMatch(/9 bytes.*truncated/);
    expect(entryMismatch('db.dump', manifest.files['db.dump'], { bytes: 10, sha256: 'c'.repeat(64) })).toMatch(/SHA-256/);
  });
});
