// Children in their own process groups, their records, and the reaping of those a killed tenantctl
// left running: with real processes (sh and sleep in groups of their own), no Docker.
import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from './temp-dirs.js';
import { parseProcStat, processIdentity, ownIdentity, type ProcessIdentity } from '../../src/common/process-identity.js';
import { childRecordsOf, writeChildRecord } from '../../src/common/child-records.js';
import { groupHasMembers } from '../../src/common/process-group.js';
import { reapOrphanedChildren } from '../../src/common/orphan-reaper.js';
import { run } from '../../src/common/exec.js';
import { build } from 'esbuild';
import { execa } from 'execa';

const started: number[] = [];

afterEach(() => {
  // Whatever a test left running of the groups it started, by their own ids.
  for (const pgid of started.splice(0)) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone: the test stopped it
    }
  }
});

/** `sh -c script` as the leader of a new process group (as execa's `detached` makes one); its identity. */
async function startGroup(script: string, { members = 1 }: { members?: number } = {}): Promise<ProcessIdentity> {
  const child = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
  started.push(child.pid!);
  child.unref();
  await until(() => processIdentity(child.pid!) !== undefined, 'the group to start');
  const identity = processIdentity(child.pid!)!;
  expect(identity.pgid).toBe(child.pid);
  // A script that sets a trap before it forks: once it has forked, the trap is set (a signal sent
  // earlier would meet the shell's default action, not the trap the test is about).
  await until(() => groupSize(identity.pgid) >= members, `the group to have ${members} processes`);
  return identity;
}

/** How many processes the group has now. */
function groupSize(pgid: number): number {
  return execFileSync('ps', ['-o', 'pid=', '-g', String(pgid)], { encoding: 'utf8' }).split('\n').filter((line) => line.trim()).length;
}

/** A process that has run and ended: an owner that is gone. */
async function endedProcess(): Promise<ProcessIdentity> {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  await until(() => processIdentity(child.pid!) !== undefined, 'sleep to start');
  const identity = processIdentity(child.pid!)!;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  expect(processIdentity(identity.pid)).toBeUndefined();
  return identity;
}

async function until(condition: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

// No waiting for a group to end by itself unless a test is about that.
const quick = { endByItselfMs: 0, graceMs: 2_000, killWaitMs: 2_000 };
const nothing = { ended: [], stopped: [], stillRunning: [] };

describe('/proc/<pid>/stat', () => {
  it('reads the group and the start time after a command name holding spaces and parentheses', () => {
    const fields = ['S', '1', '4242', '4242', '0', '-1', '4194560', '100', '0', '0', '0', '5', '3', '0', '0', '20', '0', '1', '0', '987654'];
    expect(parseProcStat(4242, `4242 (my (odd) name) ${fields.join(' ')} 1000 200`)).toEqual({ pid: 4242, pgid: 4242, startTime: '987654', state: 'S' });
    expect(parseProcStat(1, 'garbage')).toBeUndefined();
  });

  it('knows this process, and that an ended one is gone', async () => {
    expect(ownIdentity()).toMatchObject({ pid: process.pid, startTime: expect.stringMatching(/^\d+$/) });
    expect(processIdentity((await endedProcess()).pid)).toBeUndefined();
  });
});

describe('reaping the children of a tenantctl that ended', () => {
  it('stops the whole group of a child whose owner is gone, and forgets its record', async () => {
    const dir = tempDir('tenantctl-children-');
    const child = await startGroup('sleep 60 & sleep 60; wait');
    const file = writeChildRecord(dir, child, { key: 'acme', argv: ['docker', 'compose', '-p'], owner: await endedProcess() });
    expect(groupHasMembers(child.pgid)).toBe(true);

    const result = await reapOrphanedChildren(dir, 'acme', quick);

    expect(result.stopped.map((r) => r.pid)).toEqual([child.pid]);
    expect(groupHasMembers(child.pgid)).toBe(false); // the leader and both sleeps
    expect(existsSync(file)).toBe(false);
  });

  it('counts an owner pid that now belongs to another process (another start time) as gone', async () => {
    const dir = tempDir('tenantctl-children-');
    const child = await startGroup('sleep 60');
    writeChildRecord(dir, child, { key: 'acme', argv: ['docker'], owner: { ...ownIdentity(), startTime: '1' } });
    expect((await reapOrphanedChildren(dir, 'acme', quick)).stopped).toHaveLength(1);
    expect(groupHasMembers(child.pgid)).toBe(false);
  });

  it('leaves the child of a tenantctl that still runs alone', async () => {
    const dir = tempDir('tenantctl-children-');
    const child = await startGroup('sleep 60');
    const file = writeChildRecord(dir, child, { key: 'acme', argv: ['docker'], owner: ownIdentity() });
    expect(await reapOrphanedChildren(dir, 'acme', quick)).toEqual(nothing);
    expect(groupHasMembers(child.pgid)).toBe(true);
    expect(existsSync(file)).toBe(true);
  });

  it('never signals a pid whose start time is not the recorded one (a reused pid), and forgets the record', async () => {
    const dir = tempDir('tenantctl-children-');
    const someoneElse = await startGroup('sleep 60');
    const file = writeChildRecord(dir, { ...someoneElse, startTime: String(Number(someoneElse.startTime) - 1) }, { key: 'acme', argv: ['docker'], owner: await endedProcess() });
    expect(await reapOrphanedChildren(dir, 'acme', quick)).toEqual(nothing);
    expect(groupHasMembers(someoneElse.pgid)).toBe(true);
    expect(processIdentity(someoneElse.pid)).toEqual(someoneElse);
    expect(existsSync(file)).toBe(false);
  });

  it('forgets records of children that have ended and records that are damaged', async () => {
    const dir = tempDir('tenantctl-children-');
    const ended = await endedProcess();
    const stale = writeChildRecord(dir, { ...ended, pgid: ended.pid }, { key: 'acme', argv: ['docker'], owner: await endedProcess() });
    const damaged = path.join(dir, 'acme.12345.json');
    writeFileSync(damaged, '{"key": "acme", "pid": 1');
    expect(await reapOrphanedChildren(dir, 'acme', quick)).toEqual(nothing);
    expect(readdirSync(dir)).toEqual([]);
    void stale;
  });

  it('first gives a group time to end by itself (what it asked the engine is then done), and signals it only after that', async () => {
    const dir = tempDir('tenantctl-children-');
    const marks = path.join(tempDir('tenantctl-marks-'), 'signals');
    // Ends by itself after 0.3 s; a SIGTERM would leave a mark.
    const ending = await startGroup(`trap 'echo TERM >> ${marks}; exit 0' TERM; sleep 0.3`);
    writeChildRecord(dir, ending, { key: 'acme', argv: ['docker'], owner: await endedProcess() });
    const result = await reapOrphanedChildren(dir, 'acme', { endByItselfMs: 3_000, graceMs: 2_000, killWaitMs: 2_000 });
    expect(result).toMatchObject({ ended: [{ pid: ending.pid }], stopped: [] });
    expect(existsSync(marks)).toBe(false);

    // Does not end by itself: SIGTERM once the wait is over.
    const lasting = await startGroup(`trap 'echo TERM >> ${marks}; exit 0' TERM; sleep 60 & wait`, { members: 2 });
    writeChildRecord(dir, lasting, { key: 'acme', argv: ['docker'], owner: await endedProcess() });
    const before = Date.now();
    const second = await reapOrphanedChildren(dir, 'acme', { endByItselfMs: 300, graceMs: 2_000, killWaitMs: 2_000 });
    expect(second).toMatchObject({ ended: [], stopped: [{ pid: lasting.pid }] });
    expect(Date.now() - before).toBeGreaterThanOrEqual(300);
    expect(readFileSync(marks, 'utf8')).toBe('TERM\n');
    expect(groupHasMembers(lasting.pgid)).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('sends SIGKILL to a group that ignores SIGTERM once the grace time is over', async () => {
    const dir = tempDir('tenantctl-children-');
    // An ignored signal stays ignored across exec: sleep ignores SIGTERM too.
    const child = await startGroup('trap "" TERM; sleep 60 & sleep 60; wait', { members: 2 });
    writeChildRecord(dir, child, { key: 'acme', argv: ['docker'], owner: await endedProcess() });
    const before = Date.now();
    const result = await reapOrphanedChildren(dir, 'acme', { endByItselfMs: 0, graceMs: 300, killWaitMs: 2_000 });
    expect(result.stopped).toHaveLength(1);
    expect(Date.now() - before).toBeGreaterThanOrEqual(300);
    expect(groupHasMembers(child.pgid)).toBe(false);
  });

  it('touches only the records of its own key, and costs nothing without a records directory', async () => {
    const dir = tempDir('tenantctl-children-');
    const other = await startGroup('sleep 60');
    const file = writeChildRecord(dir, other, { key: 'acme-2', argv: ['docker'], owner: await endedProcess() });
    expect(await reapOrphanedChildren(dir, 'acme', quick)).toEqual(nothing);
    expect(groupHasMembers(other.pgid)).toBe(true);
    expect(existsSync(file)).toBe(true);
    expect(await reapOrphanedChildren(path.join(dir, 'missing'), 'acme', quick)).toEqual(nothing);
  });
});

describe('run() with its own process group', () => {
  /** Starts `sh` through run(); resolves with the pid of the sleep it starts in the background, and the run. */
  async function runGroup(dir: string, options: { signal?: AbortSignal; timeoutMs?: number }) {
    const pidFile = path.join(tempDir('tenantctl-sleep-'), 'sleep.pid');
    const running = run(['sh', '-c', `sleep 60 & echo $! > ${pidFile}; wait`], { timeoutMs: options.timeoutMs ?? 30_000, signal: options.signal, ownGroup: { recordsDir: dir, key: 'acme' } });
    await until(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n'), 'the background sleep');
    const sleepPid = Number(readFileSync(pidFile, 'utf8'));
    started.push(sleepPid); // its group is the run's: killing it by group reaches everything that is left
    return { running, sleepPid };
  }

  it('is recorded while it runs; Ctrl-C stops the whole group and the record goes', async () => {
    const dir = tempDir('tenantctl-children-');
    const controller = new AbortController();
    const { running, sleepPid } = await runGroup(dir, { signal: controller.signal });
    const [entry] = childRecordsOf(dir, 'acme');
    expect(entry?.record).toMatchObject({ key: 'acme', owner: { pid: process.pid, startTime: ownIdentity().startTime }, argv: ['sh', '-c', expect.any(String)] });
    expect(processIdentity(sleepPid)?.pgid).toBe(entry!.record!.pgid);

    const before = Date.now();
    controller.abort();
    const result = await running;
    expect(result).toMatchObject({ cancelled: true, timedOut: false });
    expect(Date.now() - before).toBeLessThan(2_000); // SIGTERM was enough: no wait for the grace time
    expect(processIdentity(sleepPid)).toBeUndefined(); // not only the leader the signal was for
    expect(groupHasMembers(entry!.record!.pgid)).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('stops the whole group at its timeout, and says it timed out', async () => {
    const dir = tempDir('tenantctl-children-');
    const { running, sleepPid } = await runGroup(dir, { timeoutMs: 1_000 });
    const result = await running;
    expect(result).toMatchObject({ timedOut: true, cancelled: false, exitCode: 124 });
    expect(processIdentity(sleepPid)).toBeUndefined();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('hands each stderr line on as it is written', async () => {
    const dir = tempDir('tenantctl-children-');
    const seen: { line: string; at: number }[] = [];
    await run(['sh', '-c', 'echo one >&2; sleep 0.6; echo two >&2'], { timeoutMs: 10_000, ownGroup: { recordsDir: dir, key: 'acme' }, onStderrLine: (line) => seen.push({ line, at: Date.now() }) });
    expect(seen.map((s) => s.line)).toEqual(['one', 'two']);
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThan(300); // not all at the end
  });

  it('runs to its end like any call, and leaves no record', async () => {
    const dir = tempDir('tenantctl-children-');
    const result = await run(['sh', '-c', 'echo out; echo err >&2; exit 3'], { timeoutMs: 10_000, ownGroup: { recordsDir: dir, key: 'acme' } });
    expect(result).toMatchObject({ exitCode: 3, stdout: 'out', stderrTail: 'err', cancelled: false, timedOut: false });
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('a tenantctl killed while its grouped child runs', () => {
  it('leaves a child that goes on to its end (its stderr is no pipe to break), which the next one waits for', async () => {
    const work = tempDir('tenantctl-owner-');
    const dir = path.join(work, 'children');
    // The owner: run() from src, bundled for a plain node process, killed with SIGKILL mid-call.
    const ownerScript = path.join(work, 'owner.mjs');
    await build({
      entryPoints: [path.resolve(import.meta.dirname, '../../src/common/exec.ts')],
      bundle: true, platform: 'node', format: 'esm', outfile: path.join(work, 'exec.mjs'), logLevel: 'silent',
      // As scripts/bundle-cli.mjs: CommonJS dependencies (cross-spawn) call require() for Node built-ins.
      banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
    });
    const marker = path.join(work, 'finished');
    const script = `for i in 1 2 3 4 5 6; do echo line $i >&2; sleep 0.2; done; echo yes > ${marker}`;
    writeFileSync(ownerScript, `import { run } from './exec.mjs';\nawait run(['sh', '-c', ${JSON.stringify(script)}], { timeoutMs: 60_000, ownGroup: { recordsDir: ${JSON.stringify(dir)}, key: 'acme' } });\n`);
    const owner = execa('node', [ownerScript], { reject: false });
    await until(() => childRecordsOf(dir, 'acme').some((r) => r.record), 'the child to be recorded');
    const record = childRecordsOf(dir, 'acme')[0]!.record!;
    started.push(record.pgid);
    owner.kill('SIGKILL');
    expect((await owner).signal).toBe('SIGKILL');
    expect(existsSync(marker)).toBe(false); // still at work, writing lines nobody reads

    const result = await reapOrphanedChildren(dir, 'acme', { endByItselfMs: 10_000, graceMs: 2_000, killWaitMs: 2_000 });

    expect(result).toMatchObject({ ended: [{ pid: record.pid }], stopped: [] });
    expect(readFileSync(marker, 'utf8')).toBe('yes\n'); // it ran to its end, and the reaper waited for that
    expect(readdirSync(dir)).toEqual([]); // the record and the output file
  });
});
