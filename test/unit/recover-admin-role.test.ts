import { describe, expect, it } from 'vitest';
import { DumpGuard } from '../../src/recover/dump-guard.js';
import { psqlOwnerArgv, psqlRestoreArgv, restoreOwnership, restoreRole, restoreSetup } from '../../src/recover/admin-dump.js';

// The admin snapshot's SQL runs as a role of its own, no superuser (src/recover/admin-dump.ts): it
// may not give its objects to the admin database's owner, so the guard passes pg_dump's OWNER TO
// lines for that owner on as comments (outside COPY data only), and ownership is reassigned after COMMIT.

async function guarded(text: string, options?: { ownerLinesOf?: string }): Promise<string> {
  const guard = new DumpGuard(options);
  let passed = '';
  guard.on('data', (c: Buffer) => { passed += c.toString('utf8'); });
  const ended = new Promise((resolve) => guard.once('end', resolve));
  for (let i = 0; i < text.length; i += 5) guard.write(Buffer.from(text.slice(i, i + 5)));
  guard.end();
  await ended;
  return passed;
}

describe('the admin restore as a role that is no superuser', () => {
  const dump = [
    'CREATE TABLE "public"."admin_notes" ("id" integer, "body" text);',
    'ALTER TABLE "public"."admin_notes" OWNER TO "tenantctl";',
    'ALTER FUNCTION "public"."admin_f"() OWNER TO "tenantctl";',
    'ALTER TABLE "public"."admin_other" OWNER TO "someone_else";',
    'COPY "public"."admin_notes" ("id", "body") FROM stdin;',
    '1\tALTER TABLE "public"."admin_notes" OWNER TO "tenantctl";',
    '\\.',
    '',
  ].join('\n');

  it('passes the owner\'s OWNER TO lines on as comments, any other owner\'s as they are, and COPY data untouched', async () => {
    const passed = await guarded(dump, { ownerLinesOf: 'tenantctl' });
    const lines = passed.split('\n');
    expect(lines[1]).toBe('-- owner given after the restore: ALTER TABLE "public"."admin_notes" OWNER TO "tenantctl";');
    expect(lines[2]).toMatch(/^-- owner given after the restore: ALTER FUNCTION/);
    expect(lines[3]).toBe('ALTER TABLE "public"."admin_other" OWNER TO "someone_else";');
    expect(lines[5]).toBe('1\tALTER TABLE "public"."admin_notes" OWNER TO "tenantctl";');
    // Without the option (admin-backup's own checks), the dump passes as it is.
    expect(await guarded(dump)).toBe(dump);
  });

  it('runs the snapshot as the restore role and only tenantctl\'s own statements as the owner', () => {
    expect(psqlRestoreArgv('c1')).toEqual(expect.arrayContaining(['--username', restoreRole]));
    expect(psqlOwnerArgv('c1')).toEqual(expect.arrayContaining(['--username', 'tenantctl']));
    expect(restoreSetup).toMatch(new RegExp(`CREATE ROLE ${restoreRole} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS`));
    expect(restoreSetup).toMatch(/more than a plain login/);
    expect(restoreSetup).toMatch(new RegExp(`CREATE SCHEMA public AUTHORIZATION ${restoreRole};`));
    expect(restoreOwnership).toMatch(new RegExp(`REASSIGN OWNED BY ${restoreRole} TO tenantctl;[\\s\\S]*ALTER ROLE ${restoreRole} NOLOGIN;[\\s\\S]*ALTER SCHEMA public OWNER TO pg_database_owner;`));
  });
});
