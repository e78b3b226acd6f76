import type pg from 'pg';

// What a converted tenant's old superuser owner may have left that still gives superuser rights
// (review H2): taking SUPERUSER from the owner does not undo what it did while it had it. Read in the
// conversion's own transaction (as its helper superuser, search path pg_catalog only) and reported,
// not removed: some may be the tenant's own intent (an archive_command for PITR), and only a person
// can tell. Each line names the thing and what it is.
const leftovers = `
SELECT 'SECURITY DEFINER function ' || p.oid::regprocedure::text || ' of the bootstrap superuser, executable by PUBLIC' AS what
  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
 WHERE p.proowner = 10 AND p.prosecdef AND (n.nspname <> 'pg_catalog' OR p.oid >= 16384)
   AND (p.proacl IS NULL OR EXISTS (SELECT FROM pg_catalog.aclexplode(p.proacl) a WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE'))
UNION ALL
SELECT 'event trigger ' || pg_catalog.quote_ident(evtname) || ' (runs as whoever fires it, superusers included)' FROM pg_catalog.pg_event_trigger
UNION ALL
SELECT 'role ' || pg_catalog.quote_ident(rolname) || ' has ' || CASE WHEN rolsuper THEN 'SUPERUSER' ELSE 'CREATEROLE' END
  FROM pg_catalog.pg_roles WHERE (rolsuper OR rolcreaterole) AND oid <> 10 AND rolname <> $1
UNION ALL
SELECT 'role ' || pg_catalog.quote_ident(r.rolname) || ' is a member of ' || g.rolname
  FROM pg_catalog.pg_auth_members m JOIN pg_catalog.pg_roles r ON r.oid = m.member JOIN pg_catalog.pg_roles g ON g.oid = m.roleid
 WHERE g.rolname IN ('pg_execute_server_program', 'pg_read_server_files', 'pg_write_server_files') AND r.oid <> 10
UNION ALL
SELECT 'ALTER SYSTEM setting ' || name FROM pg_catalog.pg_file_settings WHERE sourcefile LIKE '%/postgresql.auto.conf'
ORDER BY 1`;

/** The leftovers of the old superuser owner (see above); `helper` is the conversion's helper role, not one. */
export async function ownerLeftovers(client: pg.ClientBase, helper: string): Promise<string[]> {
  const { rows } = await client.query(leftovers, [helper]);
  return rows.map((row) => row.what as string);
}
