#!/usr/bin/env node
// Backup and restore throughput into a restic repository (backups.repository), beside the same
// work done by hand on the same data in the same run, medians of BENCH_ROUNDS rounds (default 3):
//   (a) `tenantctl backup <id>`: pg_dump -Fc in the db container streamed into `restic backup
//       --stdin`, the dump read back (`restic dump | pg_restore --list`), the Redis snapshot,
//       tenant.json and the manifest as snapshots, the admin row.
//   (b) by hand: `docker exec <db> pg_dump -Fc | restic backup --stdin` (nothing else).
//   (c) `tenantctl restore <id> --from <backup> --yes` in place: `restic dump` streamed into
//       pg_restore of a scratch database, app and worker stopped, databases swapped, started, ready.
//   (d) by hand: `restic dump <snapshot> | docker exec -i <db> pg_restore -d <scratch> --single-transaction`.
//   (e) incremental: `tenantctl backup` of the unchanged tenant again: its time, and how many bytes
//       the repository grew by (restic stats --mode raw-data before and after).
// MB/s are of the dump (MB = 10^6 bytes). The repository is a local folder by default (what is
// measured is tenantctl's own cost over restic's); BENCH_REPOSITORY points it elsewhere (an sftp
// URL needs ssh to reach it without a prompt).
//
// Targets (exit 1 when one is missed, or when any operation fails):
//   backup time  <= BENCH_MAX_BACKUP_RATIO (2.5) x by hand: tenantctl reads every dump back once
//   restore time <= BENCH_MAX_RESTORE_RATIO (2.0) x by hand + 30 s (stop, swap, start, readiness)
//   incremental: the repository grows by <= 5% of the dump
//
// Usage: npm run build && node bench/repository.mjs
//   BENCH_REPO_MB  size of the generated table in MB (default 1024)
//   BENCH_ROUNDS   rounds of (a)-(d) (default 3)
import { execa } from 'execa';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { benchEnvironment, fillBenchDatabase, mbps, onInterrupt, seconds, tenantctlJson, timed } from './environment.mjs';

const targetMb = Number(process.env.BENCH_REPO_MB ?? 1024);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const maxBackupRatio = Number(process.env.BENCH_MAX_BACKUP_RATIO ?? 2.5);
const maxRestoreRatio = Number(process.env.BENCH_MAX_RESTORE_RATIO ?? 2.0);
if (!(targetMb > 0) || !(rounds >= 1)) throw new Error('BENCH_REPO_MB and BENCH_ROUNDS must be positive');

const environment = await benchEnvironment('repobench');
const { dir, prefix, env } = environment;
const repository = process.env.BENCH_REPOSITORY ?? path.join(dir, 'repository');
const passwordFile = path.join(dir, 'repository.pass');
writeFileSync(passwordFile, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
Object.assign(env, {
  TENANTCTL_SUBNET_POOL: '10.252.0.0/16',
  TENANTCTL_APP_PORTS: '48000-48099', TENANTCTL_DB_PORTS: '48100-48199', TENANTCTL_REDIS_PORTS: '48200-48299',
  TENANTCTL_HEALTH_DEADLINE: '300',
  TENANTCTL_BACKUP_REPOSITORY: repository,
});
const resticEnv = { ...process.env, RESTIC_REPOSITORY: repository, RESTIC_PASSWORD_FILE: passwordFile, RESTIC_CACHE_DIR: path.join(dir, 'restic-cache') };
const id = 'bench';
const project = `${prefix}-${id}`;
let failed = false;

const tenantctl = tenantctlJson(environment, 4 * 60 * 60_000);
const docker = (args, options = {}) => execa('docker', args, { timeout: 4 * 60 * 60_000, ...options });
/** `a | b` with both exit codes checked (bash's pipefail), timed by the caller. */
const pipe = async (left, right) => {
  const r = await execa('bash', ['-o', 'pipefail', '-c', `${left} | ${right}`], { env: resticEnv, timeout: 4 * 60 * 60_000, reject: false });
  if (r.exitCode !== 0) throw new Error(`${left} | ${right}: exit ${r.exitCode}: ${r.stderr.split('\n').slice(-3).join(' ')}`);
  return r.stdout;
};
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const storedBytes = async () => JSON.parse((await execa('restic', ['stats', '--json', '--no-lock', '--mode', 'raw-data'], { env: resticEnv })).stdout).total_size;

onInterrupt('repository', { cleanup: environment.cleanup });

try {
  console.log(`repository ${repository}; provisioning ${id} (prefix ${prefix})`);
  await tenantctl(['repository', 'init', '--password-file', passwordFile]);
  await tenantctl(['provision', id]);
  const { db, psql, superuser, rows, databaseBytes } = await fillBenchDatabase({ docker, project, targetMb });
  // The tenant's owner may not create databases (it is no superuser): the by-hand restore's
  // scratch database is made and dropped as an operator would, by the superuser over the local socket.
  const asSuperuser = (sql) => docker(['exec', db, 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', '/run/postgresql', '-U', superuser, '-d', 'postgres', '-c', sql]);

  const results = { a: [], b: [], c: [], d: [] };
  let dumpBytes = 0;
  let lastBackup;
  for (let round = 1; round <= rounds; round++) {
    console.log(`round ${round}/${rounds}`);
    // A changed row each round: every round's dump differs a little (as a live tenant's would).
    await psql(`UPDATE public.bench_rows SET payload = md5('${round}') WHERE id = ${round}`);
    const a = await timed(() => tenantctl(['backup', id]));
    lastBackup = a.value;
    dumpBytes = a.value.files['db.dump'].bytes;
    results.a.push(a.ms);
    const b = await timed(() => pipe(`docker exec ${db} pg_dump -U tenant_owner -d tenant -Fc`, `restic backup --stdin --stdin-filename bench-by-hand/db.dump --tag by-hand --quiet --json`));
    results.b.push(b.ms);
    const handSnapshot = JSON.parse(b.value.trim().split('\n').pop()).snapshot_id;
    const c = await timed(() => tenantctl(['restore', id, '--from', a.value.id, '--yes']));
    results.c.push(c.ms);
    const restored = Number((await psql('SELECT count(*) FROM public.bench_rows')).stdout.trim());
    if (restored !== rows) throw new Error(`restored ${restored} rows, expected ${rows}`);
    await asSuperuser('DROP DATABASE IF EXISTS bench_by_hand');
    await asSuperuser('CREATE DATABASE bench_by_hand OWNER tenant_owner TEMPLATE template0');
    const d = await timed(() => pipe(`restic dump ${handSnapshot} /bench-by-hand/db.dump`, `docker exec -i ${db} pg_restore -U tenant_owner -d bench_by_hand --single-transaction --exit-on-error`));
    results.d.push(d.ms);
    await asSuperuser('DROP DATABASE bench_by_hand');
    console.log(`  (a) ${seconds(a.ms)}  (b) ${seconds(b.ms)}  (c) ${seconds(c.ms)}  (d) ${seconds(d.ms)}`);
  }

  console.log('(e) incremental: tenantctl backup of the unchanged tenant');
  const before = await storedBytes();
  const e = await timed(() => tenantctl(['backup', id]));
  const grew = (await storedBytes()) - before;
  const pgDumpOnly = await timed(() => pipe(`docker exec ${db} pg_dump -U tenant_owner -d tenant -Fc`, 'wc -c'));

  const m = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, median(v)]));
  const line = (label, ms) => `  ${label.padEnd(52)} ${seconds(ms).padStart(9)}  ${mbps(dumpBytes, ms).toFixed(1).padStart(7)} MB/s of dump  ${mbps(databaseBytes, ms).toFixed(1).padStart(7)} MB/s of database`;
  console.log(`\ndataset: ${rows.toLocaleString('en')} rows, database ${(databaseBytes / 1e6).toFixed(0)} MB, dump ${(dumpBytes / 1e6).toFixed(0)} MB; medians of ${rounds} rounds`);
  console.log(line('(a) tenantctl backup into the repository', m.a));
  console.log(`  ${'    of which pg_dump into restic'.padEnd(52)} ${''.padStart(9)}  ${lastBackup.dumpMBps.toFixed(1).padStart(7)} MB/s`);
  console.log(line('(b) pg_dump -Fc | restic backup --stdin by hand', m.b));
  console.log(line('(c) tenantctl restore from the repository', m.c));
  console.log(line('(d) restic dump | pg_restore by hand', m.d));
  console.log(`  (e) incremental backup of the unchanged tenant: ${seconds(e.ms)}, repository grew ${(grew / 1e6).toFixed(2)} MB (${((100 * grew) / dumpBytes).toFixed(2)}% of the dump); pg_dump alone of that database: ${seconds(pgDumpOnly.ms)}`);
  const backupRatio = m.a / m.b;
  const restoreRatio = m.c / m.d;
  console.log(`\nratios (tenantctl / by hand): backup ${backupRatio.toFixed(2)} (target <= ${maxBackupRatio}), restore ${restoreRatio.toFixed(2)} (target <= ${maxRestoreRatio} x + 30 s)`);
  const missed = [];
  if (backupRatio > maxBackupRatio) missed.push(`backup ratio ${backupRatio.toFixed(2)} > ${maxBackupRatio}`);
  if (m.c > maxRestoreRatio * m.d + 30_000) missed.push(`restore ${seconds(m.c)} > ${maxRestoreRatio} x ${seconds(m.d)} + 30 s`);
  if (grew > 0.05 * dumpBytes) missed.push(`incremental backup grew the repository by ${(grew / 1e6).toFixed(1)} MB (> 5% of the dump)`);
  if (missed.length) {
    failed = true;
    console.error(`targets missed: ${missed.join('; ')}`);
  }
} catch (error) {
  failed = true;
  console.error(`bench failed: ${error.message}`);
} finally {
  await environment.cleanup().catch((error) => console.error(`cleanup: ${error.message}`));
}
process.exit(failed ? 1 : 0);
