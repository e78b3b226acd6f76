#!/usr/bin/env node
// Physical backups into a restic repository (`backup --physical`, issue 23's goal: an incremental
// backup of an unchanged 1 GB tenant in seconds, not minutes), beside the same work by hand on the
// same data in the same run, medians of BENCH_ROUNDS rounds (default 3). The tenant is of the
// default template, crm (PostgreSQL and Redis, as users run it), with BENCH_REDIS_KEYS keys in its
// Redis. Each round gets two fresh local repositories (one for tenantctl, one for the by-hand pipe),
// so its full backup is a real one:
//   (a) full: `tenantctl backup <id> --physical` into the empty repository: the data directory's
//       files by restic in a helper container between pg_backup_start and pg_backup_stop, the
//       backup_label and WAL as a small tar read back and hashed, the data snapshot's listing checked,
//       the Redis snapshot as a logical backup takes it (BGSAVE, streamed in, read back), tenant.json,
//       the manifest, the admin row (src/backups/physical-files.ts, piece-snapshots.ts).
//   (b) by hand, full: `docker exec <db> pg_basebackup -D - -Ft -X fetch | restic backup --stdin`
//       (the cluster only: the by-hand baseline has no Redis).
//   (c) incremental: (a) again of the unchanged tenant: its time, the repository's growth
//       (restic stats --mode raw-data before and after) and how many files restic skipped unread.
//   (d) by hand, incremental: (b) again into its repository.
//   (e) `tenantctl restore <id> --from <(c)> --yes` in place: the files (restic dump of the folder)
//       and the WAL tar staged in the data volume, the Redis snapshot staged in its volume, the stack
//       stopped, both swapped, started (replays the backup's WAL), ready; rows counted and summed,
//       Redis keys counted.
// For comparison, once: `pg_dump -Fc | wc -c` of the same database (what a logical backup costs at least).
//
// Targets (exit 1 when one is missed, or when any operation fails):
//   incremental (c) <= BENCH_MAX_INCREMENTAL_S (30) seconds
//   incremental growth <= 5% of the cluster's data files
//
// Usage: npm run build && node bench/physical.mjs
//   BENCH_REPO_MB     size of the generated table in MB (default 1024)
//   BENCH_ROUNDS      rounds (default 3)
//   BENCH_REDIS_KEYS  keys written into the tenant's Redis (default 10000)
import { execa } from 'execa';
import { rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { benchEnvironment, cli, fillBenchDatabase } from './environment.mjs';

const targetMb = Number(process.env.BENCH_REPO_MB ?? 1024);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const maxIncrementalMs = Number(process.env.BENCH_MAX_INCREMENTAL_S ?? 30) * 1000;
const redisKeys = Number(process.env.BENCH_REDIS_KEYS ?? 10_000);
if (!(targetMb > 0) || !(rounds >= 1) || !(redisKeys >= 1)) throw new Error('BENCH_REPO_MB, BENCH_ROUNDS and BENCH_REDIS_KEYS must be positive');

const environment = await benchEnvironment('physbench');
const { dir, prefix, env } = environment;
const passwordFile = path.join(dir, 'repository.pass');
writeFileSync(passwordFile, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
Object.assign(env, {
  TENANTCTL_SUBNET_POOL: '10.251.0.0/16',
  TENANTCTL_APP_PORTS: '48300-48399', TENANTCTL_DB_PORTS: '48400-48499', TENANTCTL_REDIS_PORTS: '48500-48599',
  TENANTCTL_HEALTH_DEADLINE: '300',
  TENANTCTL_BACKUP_REPOSITORY_PASSWORD_FILE: passwordFile,
});
const resticEnv = (repository) => ({ ...process.env, RESTIC_REPOSITORY: repository, RESTIC_PASSWORD_FILE: passwordFile, RESTIC_CACHE_DIR: path.join(dir, 'restic-cache') });
const id = 'bench';
const project = `${prefix}-${id}`;
let failed = false;

const tenantctl = async (args) => {
  const r = await execa('node', [cli, ...args, '--json'], { env, cwd: dir, timeout: 4 * 60 * 60_000, reject: false });
  if (r.exitCode !== 0) throw new Error(`tenantctl ${args.join(' ')}: exit ${r.exitCode}\n${r.stdout}\n${r.stderr.split('\n').slice(-5).join('\n')}`);
  return JSON.parse(r.stdout);
};
const docker = (args, options = {}) => execa('docker', args, { timeout: 4 * 60 * 60_000, ...options });
/** `a | b` with both exit codes checked (bash's pipefail), timed by the caller. */
const pipe = async (left, right, repository) => {
  const r = await execa('bash', ['-o', 'pipefail', '-c', `${left} | ${right}`], { env: resticEnv(repository), timeout: 4 * 60 * 60_000, reject: false });
  if (r.exitCode !== 0) throw new Error(`${left} | ${right}: exit ${r.exitCode}: ${r.stderr.split('\n').slice(-3).join(' ')}`);
  return r.stdout;
};
const timed = async (work) => {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
};
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
const mb = (bytes) => `${(bytes / 1e6).toFixed(2)} MB`;
const restic = (args, repository) => execa('restic', args, { env: resticEnv(repository), timeout: 600_000 });
const storedBytes = async (repository) => JSON.parse((await restic(['stats', '--json', '--no-lock', '--mode', 'raw-data'], repository)).stdout).total_size;

const onSignal = async () => {
  await environment.cleanup().catch(() => {});
  process.exit(130);
};
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);

try {
  console.log(`load average at start: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (${os.cpus().length} cores)`);
  env.TENANTCTL_BACKUP_REPOSITORY = path.join(dir, 'repository-0');
  await restic(['init'], env.TENANTCTL_BACKUP_REPOSITORY);
  console.log(`provisioning ${id} (prefix ${prefix}), template crm (the default: PostgreSQL and Redis)`);
  // crm's port ranges are the config's (TENANTCTL_*_PORTS above).
  const provisioned = await tenantctl(['provision', id]);
  if ((provisioned.template ?? 'crm') !== 'crm') throw new Error(`provisioned with template ${provisioned.template}, not crm`);
  // An unchanged tenant is one whose table has been vacuumed (see fillBenchDatabase).
  const { db, psql, superuser, rows, databaseBytes } = await fillBenchDatabase({ docker, project, targetMb, vacuum: true });
  // Redis keys, written in one pipe (redis-cli reads the commands on stdin; the password from the environment, never argv).
  const redisPassword = (await tenantctl(['secrets', id])).secrets.REDIS_PASSWORD;
  const redisContainer = (await docker(['ps', '-q', '--filter', `label=com.docker.compose.project=${project}`, '--filter', 'label=com.docker.compose.service=redis'])).stdout.trim();
  const redisCli = (args, input) => docker(['exec', '-i', '-e', 'REDISCLI_AUTH', redisContainer, 'redis-cli', '--no-auth-warning', ...args], { env: { ...process.env, REDISCLI_AUTH: redisPassword }, input });
  // The Redis protocol (RESP), as redis-cli --pipe expects it: each SET as an array of bulk strings.
  const resp = (...words) => `*${words.length}\r\n${words.map((w) => `$${Buffer.byteLength(w)}\r\n${w}\r\n`).join('')}`;
  await redisCli(['--pipe'], Array.from({ length: redisKeys }, (_, i) => resp('SET', `bench:${i}`, 'x'.repeat(64))).join(''));
  const keysBefore = Number((await redisCli(['DBSIZE'])).stdout.trim());
  if (keysBefore < redisKeys) throw new Error(`Redis holds ${keysBefore} keys after writing ${redisKeys}`);

  const byHand = `docker exec ${db} pg_basebackup -h /run/postgresql -U ${superuser} -D - -Ft -X fetch --checkpoint=fast --no-manifest`;

  const results = { a: [], b: [], c: [], d: [], e: [], grew: [], handGrew: [], skipped: [] };
  const sumBefore = (await psql('SELECT sum(id) FROM public.bench_rows')).stdout.trim();
  let tarBytes = 0;
  let redisBytes = 0;
  for (let round = 1; round <= rounds; round++) {
    const repository = path.join(dir, `repository-${round}`);
    const handRepository = path.join(dir, `by-hand-${round}`);
    await restic(['init'], repository);
    await restic(['init'], handRepository);
    env.TENANTCTL_BACKUP_REPOSITORY = repository;
    console.log(`round ${round}/${rounds} (load ${os.loadavg()[0].toFixed(2)})`);
    const a = await timed(() => tenantctl(['backup', id, '--physical']));
    if (a.value.warnings) console.log(`  warnings: ${a.value.warnings.join('; ')}`);
    tarBytes = (a.value.files['db.pgdata'] ?? a.value.files['db.pgdata.tar']).bytes;
    if (!a.value.files['redis.rdb'] || a.value.method !== 'physical') throw new Error(`the physical backup of crm holds ${Object.keys(a.value.files).join(', ')} (${a.value.method}): no Redis snapshot`);
    redisBytes = a.value.files['redis.rdb'].bytes;
    const b = await timed(() => pipe(byHand, 'restic backup --stdin --stdin-filename by-hand/pgdata.tar --quiet --json', handRepository));
    const before = await storedBytes(repository);
    const c = await timed(() => tenantctl(['backup', id, '--physical']));
    const grew = (await storedBytes(repository)) - before;
    const handBefore = await storedBytes(handRepository);
    const d = await timed(() => pipe(byHand, 'restic backup --stdin --stdin-filename by-hand/pgdata.tar --quiet --json', handRepository));
    const handGrew = (await storedBytes(handRepository)) - handBefore;
    // Redis changed after the backup (keys deleted, one written): the restore must bring the backup's set back.
    await redisCli(['DEL', 'bench:0', 'bench:1', 'bench:2']);
    await redisCli(['SET', 'bench:after-backup', 'x']);
    if (Number((await redisCli(['DBSIZE'])).stdout.trim()) !== keysBefore - 2) throw new Error('Redis did not change after the backup');
    const e = await timed(() => tenantctl(['restore', id, '--from', c.value.id, '--yes']));
    const [restored, sum] = (await psql("SELECT count(*) || ' ' || sum(id) FROM public.bench_rows")).stdout.trim().split(' ');
    if (Number(restored) !== rows || sum !== sumBefore) throw new Error(`restored ${restored} rows (sum ${sum}), expected ${rows} (sum ${sumBefore})`);
    const keysAfter = Number((await redisCli(['DBSIZE'])).stdout.trim());
    if (keysAfter !== keysBefore) throw new Error(`restored Redis holds ${keysAfter} keys, expected ${keysBefore}`);
    if ((await redisCli(['EXISTS', 'bench:0', 'bench:after-backup'])).stdout.trim() !== '1') throw new Error('the restored Redis is not the backup\'s: bench:0 missing or bench:after-backup present');
    const skipped = c.value.physical ? `${c.value.physical.unmodified}/${c.value.physical.files}` : 'tar';
    for (const [k, v] of Object.entries({ a: a.ms, b: b.ms, c: c.ms, d: d.ms, e: e.ms, grew, handGrew, skipped })) results[k].push(v);
    console.log(`  (a) ${seconds(a.ms)}  (b) ${seconds(b.ms)}  (c) ${seconds(c.ms)} +${mb(grew)} (files skipped unread ${skipped})  (d) ${seconds(d.ms)} +${mb(handGrew)}  (e) ${seconds(e.ms)}`);
    // The repositories of a round are done with: the disk holds one round's at a time.
    rmSync(repository, { recursive: true, force: true });
    rmSync(handRepository, { recursive: true, force: true });
  }
  const dumpOnly = await timed(() => pipe(`docker exec ${db} pg_dump -U tenant_owner -d tenant -Fc`, 'wc -c', env.TENANTCTL_BACKUP_REPOSITORY));

  const m = Object.fromEntries(Object.entries(results).filter(([k]) => k !== 'skipped').map(([k, v]) => [k, median(v)]));
  const line = (label, ms, extra = '') => `  ${label.padEnd(58)} ${seconds(ms).padStart(9)}  ${(tarBytes / 1e6 / (ms / 1000)).toFixed(1).padStart(7)} MB/s of cluster${extra}`;
  console.log(`\ndataset (template crm): ${rows.toLocaleString('en')} rows, database ${(databaseBytes / 1e6).toFixed(0)} MB, cluster files ${(tarBytes / 1e6).toFixed(0)} MB, Redis ${keysBefore.toLocaleString('en')} keys (${mb(redisBytes)} snapshot); medians of ${rounds} rounds`);
  console.log(line('(a) tenantctl backup --physical, full', m.a));
  console.log(line('(b) pg_basebackup | restic backup --stdin by hand, full', m.b));
  console.log(line('(c) tenantctl backup --physical, incremental (unchanged)', m.c, `  repository +${mb(m.grew)}, files skipped unread ${results.skipped.join(', ')}`));
  console.log(line('(d) by hand, incremental (unchanged)', m.d, `  repository +${mb(m.handGrew)}`));
  console.log(line('(e) tenantctl restore --from <physical> in place', m.e));
  console.log(`  pg_dump -Fc of the same database alone (a logical backup's least cost): ${seconds(dumpOnly.ms)}`);
  console.log(`load average at the end: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const missed = [];
  if (m.c > maxIncrementalMs) missed.push(`incremental physical backup ${seconds(m.c)} > ${seconds(maxIncrementalMs)}`);
  if (m.grew > 0.05 * tarBytes) missed.push(`incremental backup grew the repository by ${mb(m.grew)} (> 5% of the cluster)`);
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
