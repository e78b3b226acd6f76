#!/usr/bin/env node
// `npm test`: every test of the repository, in two lanes. The end-to-end files drive one Docker
// engine and spend most of their time waiting on it (containers starting, health checks), so two of
// them at once nearly halve the wall time on a 2-core machine. Each lane runs one vitest per file,
// taking the longest file not yet run (recorded durations: test/durations.json, refreshed locally in
// node_modules/.cache), so the lanes end close together; the unit tests are one more job. Then the
// files that must run alone run one by one, and one summary covers everything.
//
// Why not vitest's own workers (maxWorkers: 2, projects with sequence.groupOrder): its pool hands
// files to whichever worker is free and cannot keep two given files from running at the same time
// (`apart` below); one vitest per file can, and a failing file's output is printed in one piece.
//
// What two files at once would collide on is kept apart at its root:
// - tenant host ports and subnets: each lane has its own window and pools (test/e2e/lanes.ts, applied
//   by the harness from TENANTCTL_TEST_LANE, which this script sets);
// - everything else a file names is its own already: compose projects, containers, volumes and
//   networks carry the file's prefix (tct<file><time>), admin database, front door, agent, pebble and
//   Prometheus ports are free ports picked by the file, test engines and images have per-file names,
//   the test engines' image is built under a machine-wide lock (test/e2e/engines.ts);
// - what is left is scheduled: `alone` and `apart` below, each with its reason.
//
// TENANTCTL_TEST_LANES=1 runs `vitest run` as before (one file at a time, one vitest); arguments are
// passed to a plain `vitest run` too (`npm test -- test/e2e/backup.test.ts`). Exit status: 0 when
// every job passed, 1 otherwise, 130/143 when interrupted.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const vitest = path.join(root, 'node_modules', 'vitest', 'vitest.mjs');
const durationsFile = path.join(root, 'test', 'durations.json');
const localDurationsFile = path.join(root, 'node_modules', '.cache', 'tenantctl', 'test-durations.json');
/** A file with no recorded duration (a new one): started early rather than last. */
const unknownSeconds = 90;

/** Files that run after the lanes, one at a time, with nothing else running. */
const alone = {
  'test/e2e/door-load.test.ts': 'holds requests back for about a second by the clock (docker exec timing inside the app\'s 5 s idle timeout): a second lane makes rounds late',
};

/** Files of one set never run at the same time (any lane may run any of them). */
const apart = {
  'frontbase template': {
    why: 'the frontbase template\'s own port ranges (3002-3999, 8000-8999, 6380-6999) are not moved by lane: lanes.ts moves the env\'s ranges only',
    files: ['test/e2e/frontbase.test.ts', 'test/e2e/frontbase-verbs.test.ts', 'test/e2e/fleet-move.test.ts'],
  },
  'agent image': {
    why: 'a precaution: each waits on agents\' timed loops (5-15 s) and builds or prunes agent images on the one engine; the prune race between two `agent up` of one build is fixed (src/agent/image.ts keeps its own bundle\'s image), the three together in lanes are not proven yet',
    files: ['test/e2e/agent.test.ts', 'test/e2e/agent-ops.test.ts', 'test/e2e/acme-agent.test.ts'],
  },
};

const args = process.argv.slice(2);
const lanesSetting = process.env.TENANTCTL_TEST_LANES ?? '2';
if (!/^[12]$/.test(lanesSetting)) {
  console.error(`test: TENANTCTL_TEST_LANES=${lanesSetting}: must be 1 (one file at a time) or 2 (two lanes)`);
  process.exit(2);
}
const env = { ...process.env };
delete env.TENANTCTL_TEST_LANE;
if (args.length > 0 || lanesSetting === '1') process.exit(await plainVitest(args));
process.exit(await inLanes(Number(lanesSetting)));

/** `vitest run [args]`, its output as it comes, its exit status. */
function plainVitest(extra) {
  const child = spawn(process.execPath, [vitest, 'run', ...extra], { cwd: root, env, stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal === 'SIGINT' ? 130 : 143))));
}

async function inLanes(laneCount) {
  const started = performance.now();
  const cpuAtStart = hostCpu();
  const seconds = () => Math.round((performance.now() - started) / 1000);
  const estimates = { ...readJson(durationsFile), ...readJson(localDurationsFile) };
  const { unitFiles, otherFiles } = testFiles();
  const jobs = [
    ...(unitFiles.length ? [{ name: 'test/unit', args: ['test/unit'], files: unitFiles }] : []),
    ...otherFiles.map((file) => ({ name: file, args: [file], files: [file] })),
  ].map((job) => ({ ...job, estimate: estimates[job.name] ?? unknownSeconds, sets: Object.entries(apart).filter(([, set]) => set.files.includes(job.name)).map(([name]) => name) }));
  const queue = jobs.filter((job) => !(job.name in alone)).sort((a, b) => b.estimate - a.estimate);
  const last = jobs.filter((job) => job.name in alone);
  console.log(`test: ${jobs.length} jobs (unit tests as one, each other file as one) in ${laneCount} lanes, longest first; then ${last.length} alone (${last.map((j) => j.name).join(', ')}). TENANTCTL_TEST_LANES=1 runs one file at a time.`);

  const results = [];
  const running = new Map();
  let interrupted;
  let waiters = [];
  const changed = () => new Promise((resolve) => waiters.push(resolve));
  const wakeAll = () => {
    const woken = waiters;
    waiters = [];
    for (const wake of woken) wake();
  };
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      // A second signal: no more patience with the running files.
      const how = interrupted ? 'SIGKILL' : signal;
      interrupted ??= signal;
      console.log(`test: ${signal}: no new files; ${how} to the running ones`);
      for (const { child } of running.values()) killGroup(child, how);
      wakeAll();
    });
  }

  /** Per lane, the seconds it sat idle because every file left shared an `apart` set with a running one, by set. */
  const idle = new Map();
  const runLane = async (lane) => {
    for (;;) {
      if (interrupted || queue.length === 0) return;
      const busy = new Set([...running.values()].flatMap(({ job }) => job.sets));
      const index = queue.findIndex((job) => !job.sets.some((set) => busy.has(set)));
      if (index < 0) {
        // Every file left waits for one of its set to end: the lane idles meanwhile.
        const blocking = [...new Set(queue.flatMap((job) => job.sets.filter((set) => busy.has(set))))];
        const waitStarted = performance.now();
        await changed();
        const waited = (performance.now() - waitStarted) / 1000;
        const mine = idle.get(lane) ?? new Map();
        for (const set of blocking) mine.set(set, (mine.get(set) ?? 0) + waited / blocking.length);
        idle.set(lane, mine);
        continue;
      }
      const [job] = queue.splice(index, 1);
      results.push(await runJob(job, lane, { started: seconds(), running, onEnd: wakeAll }));
    }
  };
  await Promise.all(Array.from({ length: laneCount }, (_, i) => runLane(i + 1)));
  const lanesSeconds = seconds();
  for (const job of last) {
    if (interrupted) break;
    results.push(await runJob(job, undefined, { started: seconds(), running, onEnd: wakeAll }));
  }
  const skippedJobs = interrupted ? [...queue, ...last.filter((job) => !results.some((r) => r.job === job))] : [];
  recordDurations(results);
  printSummary({ results, laneCount, wall: seconds(), lanesSeconds, skippedJobs, interrupted, cpu: cpuShare(cpuAtStart, hostCpu()), idle });
  if (interrupted) return interrupted === 'SIGINT' ? 130 : 143;
  return results.every((r) => r.ok) ? 0 : 1;
}

/** test/**\/*.test.ts as vitest.config.ts includes them: the unit tests' files, and every other file. */
function testFiles() {
  const walk = (dir) => readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const relative = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : walk(relative);
    return entry.name.endsWith('.test.ts') ? [relative] : [];
  });
  const all = walk('test').sort();
  return { unitFiles: all.filter((f) => f.startsWith('test/unit/')), otherFiles: all.filter((f) => !f.startsWith('test/unit/')) };
}

/** One vitest for one job; its output printed in one piece when it ends, with its result. */
function runJob(job, lane, { started, running, onEnd }) {
  const scratch = mkdtempSync(path.join(tmpdir(), 'tenantctl-test-'));
  const summaryFile = path.join(scratch, 'summary.json');
  const jobEnv = { ...env, TENANTCTL_TEST_SUMMARY_FILE: summaryFile, ...(lane ? { TENANTCTL_TEST_LANE: String(lane) } : {}) };
  if (process.stdout.isTTY && !('NO_COLOR' in env)) jobEnv.FORCE_COLOR = '1';
  const where = lane ? `lane ${lane}` : 'alone';
  console.log(`test: [${where}] ${job.name} started at ${started} s (about ${job.estimate} s)`);
  // Its own process group: an interrupt reaches the CLI processes and compose it started too.
  const child = spawn(process.execPath, [vitest, 'run', ...job.args, '--no-cache'], { cwd: root, env: jobEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  running.set(child.pid, { child, job });
  const output = [];
  child.stdout.on('data', (chunk) => output.push(chunk));
  child.stderr.on('data', (chunk) => output.push(chunk));
  const t0 = performance.now();
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      running.delete(child.pid);
      const took = Math.round((performance.now() - t0) / 1000);
      const summary = readJson(summaryFile);
      rmSync(scratch, { recursive: true, force: true });
      const problems = [...(summary?.problems ?? [])];
      if (!summary) problems.push(`${job.name}: vitest ended (${signal ?? `exit ${code}`}) without a summary`);
      else if (summary.files.length !== job.files.length || job.files.some((f) => !summary.files.includes(f))) {
        problems.push(`${job.name}: vitest ran ${summary.files.length} file(s) (${summary.files.slice(0, 3).join(', ')}${summary.files.length > 3 ? ', ...' : ''}), not the job's ${job.files.length}`);
      }
      const counts = summary ? { passed: summary.passed, failed: summary.failed, skipped: summary.skipped } : { passed: 0, failed: 0, skipped: 0 };
      const ok = code === 0 && problems.length === 0 && counts.failed === 0;
      // A job that failed without a counted failure (a crash, the wrong files) still counts as one.
      if (!ok && counts.failed === 0) counts.failed = 1;
      const line = `── [${where}] ${job.name}: ${ok ? 'passed' : 'FAILED'} in ${took} s (${counts.passed} passed, ${counts.failed} failed${counts.skipped ? `, ${counts.skipped} skipped` : ''}) ──`;
      process.stdout.write(`${line}\n${Buffer.concat(output).toString('utf8').trimEnd()}\n${'─'.repeat(Math.min(line.length, 100))}\n`);
      resolve({ job, lane, started, took, ok, counts, problems });
      onEnd();
    });
  });
}

function killGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

function readJson(file) {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/** This machine's durations of jobs that passed, for the next run's order (test/durations.json is the committed start). */
function recordDurations(results) {
  const passed = results.filter((r) => r.ok);
  if (passed.length === 0 || !existsSync(path.join(root, 'node_modules'))) return;
  const merged = { ...readJson(localDurationsFile), ...Object.fromEntries(passed.map((r) => [r.job.name, r.took])) };
  mkdirSync(path.dirname(localDurationsFile), { recursive: true });
  writeFileSync(localDurationsFile, `${JSON.stringify(merged, null, 2)}\n`);
}

/** All CPUs' busy and total time from /proc/stat (Linux), for how busy the machine was; undefined elsewhere. */
function hostCpu() {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
    const total = fields.reduce((a, b) => a + b, 0);
    return { busy: total - fields[3] - fields[4], total };
  } catch {
    return undefined;
  }
}

function cpuShare(a, b) {
  return a && b && b.total > a.total ? Math.round((100 * (b.busy - a.busy)) / (b.total - a.total)) : undefined;
}

function printSummary({ results, laneCount, wall, lanesSeconds, skippedJobs, interrupted, cpu, idle }) {
  // How busy the whole machine was (every process, not only the tests'): near 100% says more lanes would not help.
  const busy = cpu === undefined ? '' : `; host CPU ${cpu}% busy`;
  const lines = ['', `test: wall ${wall} s: ${laneCount} lanes ${lanesSeconds} s, then alone ${wall - lanesSeconds} s${busy}`];
  for (let lane = 1; lane <= laneCount; lane++) {
    const mine = results.filter((r) => r.lane === lane);
    lines.push(`  lane ${lane}: ${mine.reduce((s, r) => s + r.took, 0)} s in ${mine.length} jobs: ${mine.map((r) => `${path.basename(r.job.name).replace(/\.test\.ts$/, '')} ${r.took}${r.ok ? '' : ' FAILED'}`).join(', ')}`);
    // Time the lane had files left but could start none of them (each shared an `apart` set with a running file).
    const waits = [...(idle.get(lane) ?? new Map()).entries()].map(([set, s]) => [set, Math.round(s)]).filter(([, s]) => s > 0);
    if (waits.length) lines.push(`    idle ${waits.reduce((t, [, s]) => t + s, 0)} s waiting for apart sets: ${waits.map(([set, s]) => `${set} ${s} s`).join(', ')}`);
  }
  const solo = results.filter((r) => r.lane === undefined);
  if (solo.length) lines.push(`  alone: ${solo.map((r) => `${path.basename(r.job.name).replace(/\.test\.ts$/, '')} ${r.took}${r.ok ? '' : ' FAILED'}`).join(', ')}`);
  const failed = results.filter((r) => !r.ok);
  if (failed.length) lines.push(`failed files: ${failed.map((r) => r.job.name).join(', ')}`);
  if (interrupted) lines.push(`interrupted (${interrupted}); not run: ${skippedJobs.map((j) => j.name).join(', ') || 'none'}`);
  lines.push(...results.flatMap((r) => r.problems));
  const total = results.reduce((t, r) => ({ passed: t.passed + r.counts.passed, failed: t.failed + r.counts.failed, skipped: t.skipped + r.counts.skipped }), { passed: 0, failed: 0, skipped: 0 });
  // The same closing line as test/summary-reporter.ts prints for one vitest.
  lines.push(`${total.passed} passed, ${total.failed} failed${total.skipped ? `, ${total.skipped} skipped` : ''}`);
  console.log(lines.join('\n'));
}
