import { describe, expect, it } from 'vitest';
import { adminSnapshots, type AdminSnapshot } from '../../src/recover/restic-admin.js';
import { chooseSnapshot } from '../../src/recover/recover.js';
import { refusalOfDump } from '../../src/recover/admin-restore.js';
import { DumpGuard } from '../../src/recover/dump-guard.js';
import type { Repository } from '../../src/repository/restic.js';

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
  ])('refuses %s and passes nothing from it on', async (line, why) => {
    const text = goodDump.replace('GRANT SELECT', `${line}\nGRANT SELECT`);
    const { guard, passed } = await guarded(text);
    expect(guard.refused).toMatch(why);
    expect(passed).not.toContain(line);
    expect(passed).not.toContain('dump complete');
    expect(guard.complete).toBe(false);
    expect(refusalOfDump(guard, 'aaaaaaaa')?.message).toMatch(/is not a dump tenantctl admin-backup writes/);
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
