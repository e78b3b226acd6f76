#!/usr/bin/env node
// Backup and restore throughput of one tenant with a generated dataset, beside plain pg_dump and
// pg_restore of the same database run the same way (inside the tenant's db container, custom
// format, streamed to / from a file on the host):
//   (a) `tenantctl backup <id>`: the whole command (pg_dump, pg_restore --list check, Redis
//       snapshot, record, manifest with SHA-256, admin row) and its dump step alone.
//   (b) `docker exec <db> pg_dump -Fc -U tenant_owner -d tenant > file`.
//   (c) `tenantctl restore <id> --from <backup>` in place: checksums verified, pg_restore into a
//       scratch database, app and worker stopped, databases swapped, Redis replaced, started, ready.
//   (d) `docker exec -i <db> pg_restore -d <scratch> --single-transaction --exit-on-error < file`.
// Throughput is MB/s of the dump file (MB = 10^6 bytes); ratios are tenantctl's time / plain time.
// The dataset is generated inside the db container with generate_series: BENCH_BACKUP_MB of rows
// (default 1024, i.e. >= 1 GB in the table), each row 512 hexadecimal characters from 16 distinct
// md5 values (no repeats for zlib to find: pg_dump -Fc compresses them to about half).
//
// Usage: npm run build && node bench/backup-restore.mjs
//   BENCH_BACKUP_MB   size of the generated table in MB (default 1024)
// Everything runs in bench/environment.mjs's private customers dir, state dir, compose project
// prefix and admin database, on its own subnet pool and port ranges, and is removed afterwards.
import { execa } from 'execa';
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { benchEnvironment, mbps, onInterrupt, seconds, tenantctlJson, timed } from './environment.mjs';

const targetMb = Number(process.env.BENCH_BACKUP_MB ?? 1024);
if (!Number.isFinite(targetMb) || targetMb <= 0) throw new Error('BENCH_BACKUP_MB must be a positive number');
const rowBytes = 512;
const rows = Math.ceil((targetMb * 1e6) / (rowBytes + 40)); // ~40 bytes of tuple header and id per row

const environment = await benchEnvironment('bkbench');
const { dir, prefix, env } = environment;
Object.assign(env, {
  TENANTCTL_SUBNET_POOL: '10.253.0.0/16',
  TENANTCTL_APP_PORTS: '47000-47099', TENANTCTL_DB_PORTS: '47100-47199', TENANTCTL_REDIS_PORTS: '47200-47299',
  TENANTCTL_HEALTH_DEADLINE: '300',
});
const id = 'bench';
const project = `${prefix}-${id}`;
let failed = false;

const tenantctl = tenantctlJson(environment, 4 * 60 * 60_000);
const docker = (args, options = {}) => execa('docker', args, { timeout: 4 * 60 * 60_000, ...options });

onInterrupt('backup-restore', { cleanup: environment.cleanup });

try {
  console.log(`provisioning ${id} (prefix ${prefix})`);
  await tenantctl(['provision', id]);
  const db = (await docker(['ps', '-q', '--filter', `label=com.docker.compose.project=${project}`, '--filter', 'label=com.docker.compose.service=db'])).stdout.trim();
  const psql = (sql, database = 'tenant') => docker(['exec', db, 'psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-U', 'tenant_owner', '-d', database, '-c', sql]);

  console.log(`generating ${rows.toLocaleString('en')} rows (~${targetMb} MB) inside the db container`);
  const generation = await timed(() => psql(`
    CREATE TABLE public.bench_rows (id bigint PRIMARY KEY, payload text NOT NULL);
    INSERT INTO public.bench_rows
      SELECT g, ${Array.from({ length: 16 }, (_, i) => `md5(g::text || '.${i}')`).join(' || ')}
      FROM generate_series(1, ${rows}) g;
    CHECKPOINT;`));
  const tableBytes = Number((await psql("SELECT pg_total_relation_size('public.bench_rows')")).stdout.trim());
  const databaseBytes = Number((await psql("SELECT pg_database_size('tenant')")).stdout.trim());
  console.log(`  table ${(tableBytes / 1e6).toFixed(0)} MB, database ${(databaseBytes / 1e6).toFixed(0)} MB (${seconds(generation.ms)})`);

  // (a) tenantctl backup
  console.log('(a) tenantctl backup');
  const backup = await timed(() => tenantctl(['backup', id]));
  const dumpBytes = backup.value.files['db.dump'].bytes;

  // (b) plain pg_dump, the same way: in the container, custom format, streamed to a file
  console.log('(b) plain pg_dump -Fc');
  const plainFile = path.join(dir, 'plain.dump');
  const plainDump = await timed(async () => {
    const child = docker(['exec', db, 'pg_dump', '-U', 'tenant_owner', '-d', 'tenant', '-Fc'], { buffer: false, stdout: 'pipe' });
    await Promise.all([pipeline(child.stdout, createWriteStream(plainFile)), child]);
  });
  const plainBytes = statSync(plainFile).size;

  // (c) tenantctl restore, in place
  console.log('(c) tenantctl restore (in place)');
  const restore = await timed(() => tenantctl(['restore', id, '--from', backup.value.id, '--yes']));
  const restoredRows = Number((await psql('SELECT count(*) FROM public.bench_rows')).stdout.trim());
  if (restoredRows !== rows) throw new Error(`restored ${restoredRows} rows, expected ${rows}`);

  // (d) plain pg_restore into a scratch database, the same way
  console.log('(d) plain pg_restore --single-transaction');
  await psql('CREATE DATABASE bench_plain_restore OWNER tenant_owner TEMPLATE template0', 'template1');
  const plainRestore = await timed(async () => {
    const child = docker(['exec', '-i', db, 'pg_restore', '-U', 'tenant_owner', '-d', 'bench_plain_restore', '--single-transaction', '--exit-on-error'], { buffer: false, stdin: 'pipe' });
    await Promise.all([pipeline(createReadStream(plainFile), child.stdin), child]);
  });
  await psql('DROP DATABASE bench_plain_restore', 'template1');

  const line = (label, bytes, ms) => `  ${label.padEnd(44)} ${seconds(ms).padStart(9)}  ${mbps(bytes, ms).toFixed(1).padStart(7)} MB/s of dump  ${mbps(databaseBytes, ms).toFixed(1).padStart(7)} MB/s of database`;
  console.log(`\ndataset: ${rows.toLocaleString('en')} rows, table ${(tableBytes / 1e6).toFixed(0)} MB; dump ${(dumpBytes / 1e6).toFixed(0)} MB (tenantctl) / ${(plainBytes / 1e6).toFixed(0)} MB (plain)`);
  console.log(line('(a) tenantctl backup (whole command)', dumpBytes, backup.ms));
  console.log(`  ${'    of which pg_dump into the file'.padEnd(44)} ${''.padStart(9)}  ${backup.value.dumpMBps.toFixed(1).padStart(7)} MB/s`);
  console.log(line('(b) plain pg_dump -Fc', plainBytes, plainDump.ms));
  console.log(line('(c) tenantctl restore (whole command)', dumpBytes, restore.ms));
  console.log(`  ${'    of which pg_restore into the scratch db'.padEnd(44)} ${''.padStart(9)}  ${restore.value.restoreMBps.toFixed(1).padStart(7)} MB/s`);
  console.log(line('(d) plain pg_restore', plainBytes, plainRestore.ms));
  console.log(`\nratios (tenantctl time / plain time): backup ${(backup.ms / plainDump.ms).toFixed(2)}, restore ${(restore.ms / plainRestore.ms).toFixed(2)}`);
} catch (error) {
  failed = true;
  console.error(`bench failed: ${error.message}`);
} finally {
  await environment.cleanup().catch((error) => console.error(`cleanup: ${error.message}`));
}
process.exit(failed ? 1 : 0);
