// `move` across a fleet when things go wrong, and the front door for tenants on other hosts. One
// test engine (test/e2e/engines.ts, started once for the file) registered over tcp beside this
// machine's engine, and the front door (nginx + gateway) on this machine:
// - a batch of two placed at once spreads over both hosts; the remote tenant's app URL names its
//   host's address, and both answer through https://<id>.<baseDomain> (nginx dials the engine);
// - kill -9 at pause points of `move` (backed-up, detached, restored), then `move` again (the
//   next command settles the killed one from its journal, then moves):
//   the tenant ends whole on exactly one host, its rows read back, nothing left on the other,
//   the front door pointing at where it is now;
// - a move whose target engine stops before the restore: the tenant keeps working on the source,
//   and the message names the first cause (and an allocation another tenant took meanwhile);
// - a second host name for this machine's engine (another socket path): hosts add refuses it
//   (exit 5), and move refuses one registered before engine IDs were recorded (exit 2);
// - a second move while one runs: exit 5, and the first one completes;
// - the front door during a move: unavailable from the backup until the target is ready (measured);
// - a frontbase tenant (SQLite, Redis, PostgreSQL pieces) moved to the engine with every piece.
import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, dockerObjectsWithPrefix, stopwatch, useOwnFrontdoor, type Harness } from './harness.js';
import { tenantDbThroughEngine } from './tenant-db.js';
import { startEngines, type TestEngine, type TestEngines } from './engines.js';
import { startPausedAt, type PausedRun } from './pause.js';

let h: Harness;
let fleet: TestEngines;
let engine: TestEngine;
let ports: { http: number; https: number };
let ca: string;
const home = 'fm-home';
const remote = 'e1';
const base = 'tenants.localhost';
const images = ['tenantctl/postgres:15', 'tenantctl/redis:7', 'tenantctl/app:latest'];
const timings: Record<string, number> = {};
/** The tenant the batch put on this machine (it is the one moved back and forth) and the one it put on the engine. */
let mover: string;
let bystander: string;
/** Volumes of a tenant on the test engine: its two data volumes and the ones its files are shipped in (remote-files.ts). */
let remoteVolumes: number;

const timed = stopwatch(timings);

beforeAll(async () => {
  fleet = await timed('start one engine', () => startEngines('fmove', 1, { images }));
  engine = fleet.engines[0]!;
  h = await createHarness('fleetmove', { TENANTCTL_HOST_ID: home });
  ports = await useOwnFrontdoor(h);
  ca = path.join(h.env.TENANTCTL_STATE_DIR!, 'frontdoor', 'tls', 'ca.crt');
  const added = await h.cli(['hosts', 'add', remote, '--docker', engine.tcp]);
  if (added.exitCode !== 0) throw new Error(added.why);
  const init = await h.cli(['frontdoor', 'init', '--self-signed']);
  if (init.exitCode !== 0) throw new Error(init.why);
}, 900_000);

afterAll(async () => {
  console.log(`fleet-move timings (ms): ${JSON.stringify({ ...timings, engines: fleet?.timings })}`);
  if (h) {
    await h.cli(['frontdoor', 'down']).catch(() => {});
    await h.cleanup();
  }
  await fleet?.cleanup();
}, 600_000);

/** curl through the front door on this machine, the name resolved to loopback, TLS checked with the local CA. */
async function door(id: string, urlPath = '/api/health'): Promise<{ status: number; body: string }> {
  const host = `${id}.${base}`;
  const result = await execa('curl', ['-sS', '--max-time', '10', '--cacert', ca, '--resolve', `${host}:${ports.https}:127.0.0.1`, '-o', '-', '-w', '\n%{http_code}', `https://${host}:${ports.https}${urlPath}`], { reject: false });
  if (result.exitCode !== 0) throw new Error(`curl ${host}: exit ${result.exitCode}: ${result.stderr}`);
  const lines = String(result.stdout).split('\n');
  return { status: Number(lines.pop()), body: lines.join('\n') };
}

/** The tenant's database where its host publishes it, with its current password. */
async function tenantDb(id: string): Promise<pg.Client> {
  const [row] = await h.adminQuery('SELECT db_port, host FROM admin_customers WHERE id = $1', [id]);
  const password = readFileSync(path.join(h.customersDir, id, 'secrets', 'DB_PASSWORD'), 'utf8').trim();
  const login = { user: 'tenant_owner', password, database: 'tenant' };
  // The remote engine publishes no database port: reached through it (docker exec), as tenantctl does.
  if (row.host === remote) return tenantDbThroughEngine(engine.tcp, { project: `${h.prefix}-${id}`, service: 'db' }, login);
  const client = new pg.Client({ host: '127.0.0.1', port: row.db_port, ...login, connectionTimeoutMillis: 10_000 });
  await client.connect();
  return client;
}

/** Compose objects of a tenant's project on the test engine. */
async function onEngine(id: string) {
  const filter = `label=com.docker.compose.project=${h.prefix}-${id}`;
  const [containers, volumes, networks] = await Promise.all([
    engine.docker(['ps', '-aq', '--filter', filter]),
    engine.docker(['volume', 'ls', '-q', '--filter', filter]),
    engine.docker(['network', 'ls', '-q', '--filter', filter]),
  ]);
  const lines = (out: string) => out.split('\n').filter(Boolean);
  return { containers: lines(containers), networks: lines(networks), volumes: lines(volumes) };
}

/**
 * The tenant is whole on `where` and nothing of it is anywhere else: its row active there, no move
 * running, four containers, one network and two volumes on that engine and none on the other, the
 * rows written before the moves, its app URL (naming that host) and the front door answering.
 */
async function expectWholeOn(id: string, where: typeof home | typeof remote, rows: number) {
  const [row] = await h.adminQuery('SELECT host, status, app_url, app_port FROM admin_customers WHERE id = $1', [id]);
  expect(row).toMatchObject({ host: where, status: 'active' });
  expect(await h.adminQuery("SELECT id FROM admin_operations WHERE customer_id = $1 AND state = 'running'", [id])).toEqual([]);
  const [here, there] = where === home ? [await dockerObjectsWithPrefix(`${h.prefix}-${id}`), await onEngine(id)] : [await onEngine(id), await dockerObjectsWithPrefix(`${h.prefix}-${id}`)];
  expect({ containers: here.containers.length, networks: here.networks.length, volumes: here.volumes.length }).toEqual({ containers: 4, networks: 1, volumes: where === home ? 2 : remoteVolumes });
  expect(there).toEqual({ containers: [], networks: [], volumes: [] });
  expect(existsSync(path.join(h.customersDir, `.${id}.move-source`))).toBe(false);

  const client = await tenantDb(id);
  try {
    expect((await client.query('SELECT count(*)::int AS n, sum(n)::int AS total FROM moved')).rows[0]).toEqual({ n: rows, total: (rows * (rows + 1)) / 2 });
  } finally {
    await client.end();
  }
  expect(row.app_url).toBe(`http://${where === remote ? engine.address : '127.0.0.1'}:${row.app_port}`);
  expect((await fetch(`${row.app_url}/api/health`)).status).toBe(200);
  const through = await door(id);
  expect(through.status, through.body).toBe(200);
  expect(JSON.parse(through.body).customer).toBe(id);
  const live = readFileSync(path.join(h.env.TENANTCTL_STATE_DIR!, 'frontdoor', 'conf', 'live', 't', id, 'server.conf'), 'utf8');
  if (where === remote) expect(live).toContain(`server ${engine.address}:${row.app_port} max_fails=0;`);
  else expect(live).toContain(`server 127.0.0.1:${row.app_port} backup max_fails=0;`);
}

/**
 * The front door's answers for a tenant, polled until stopped: how long, and with what status, it
 * was unavailable last (the run of non-200 answers before the final 200s).
 */
function watchDoor(id: string): { stop(): Promise<{ windowMs: number; statuses: number[]; samples: number }> } {
  const samples: Array<{ at: number; status: number }> = [];
  let stopped = false;
  const polling = (async () => {
    while (!stopped) {
      const at = performance.now();
      samples.push({ at, status: await door(id).then((r) => r.status, () => 0) });
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await polling;
      let end = samples.length;
      while (end > 0 && samples[end - 1]!.status === 200) end -= 1;
      let start = end;
      while (start > 0 && samples[start - 1]!.status !== 200) start -= 1;
      const down = samples.slice(start, end);
      const windowMs = down.length === 0 ? 0 : Math.round((samples[end]?.at ?? performance.now()) - down[0]!.at);
      return { windowMs, statuses: [...new Set(down.map((d) => d.status))], samples: samples.length };
    },
  };
}

/** kill -9 while it waits at its step; the pause file goes only afterwards (removing it means "go on"). */
async function killHard(run: PausedRun): Promise<void> {
  run.child.kill('SIGKILL');
  expect((await run.child).signal).toBe('SIGKILL');
  run.resume();
}

const moveTo = (to: string) => h.cli(['move', mover, '--to', to, '--json'], { timeoutMs: 900_000 });
const rowsWritten = 300;
/** How the journal closed each move of the mover, in order, as the tests make them. */
const history: string[] = [];

describe('a fleet with a front door, and moves that fail or are killed', () => {
  it('a batch of two spreads over both hosts; the remote tenant\'s URL names its host; both answer through the front door', async () => {
    const batch = await timed('batch of two, placed', () => h.cli(['provision', 'fma', 'fmb', '--json'], { timeoutMs: 900_000 }));
    expect(batch.exitCode, batch.why).toBe(0);
    const hosts = Object.fromEntries((await h.adminQuery('SELECT id, host FROM admin_customers ORDER BY id')).map((r) => [r.id, r.host]));
    expect(Object.values(hosts).sort()).toEqual([remote, home]);
    mover = Object.keys(hosts).find((id) => hosts[id] === home)!;
    bystander = Object.keys(hosts).find((id) => hosts[id] === remote)!;

    remoteVolumes = (await onEngine(bystander)).volumes.length;
    expect(remoteVolumes).toBeGreaterThanOrEqual(2);
    const remoteUrl = batch.json().tenants.find((t: any) => t.id === bystander).result.url;
    expect(remoteUrl).toMatch(new RegExp(`^http://${engine.address.replace(/\./g, '\\.')}:\\d+$`));
    expect((await fetch(`${remoteUrl}/api/health`)).status).toBe(200);
    const status = await h.cli(['status', bystander, '--json']);
    expect(status.exitCode, status.why).toBe(0);
    expect(JSON.stringify(status.json())).toContain(remoteUrl);

    for (const id of [mover, bystander]) {
      const through = await door(id);
      expect(through.status, `${id}: ${through.body}`).toBe(200);
      expect(JSON.parse(through.body).customer).toBe(id);
    }

    const client = await tenantDb(mover);
    await client.query('CREATE TABLE moved (n int PRIMARY KEY, what text)');
    await client.query(`INSERT INTO moved SELECT n, 'row ' || n FROM generate_series(1, ${rowsWritten}) n`);
    await client.end();
  }, 900_000);

  it('a second name for this machine\'s engine (another socket path) is the same engine: refused, naming both, the tenant untouched', async () => {
    const alias = 'fm-alias';
    // hosts add compares engine IDs (migration 012): one engine, one name.
    const added = await h.cli(['hosts', 'add', alias, '--docker', 'unix:///run/docker.sock']);
    expect(added.exitCode, added.why).toBe(5);
    expect(added.stderr).toContain(`registered as Docker host ${home}`);
    // A second name registered before engine IDs were recorded (engine_id NULL): move still refuses it.
    await h.adminQuery("INSERT INTO admin_hosts (name, docker_endpoint) VALUES ($1, 'unix:///run/docker.sock')", [alias]);
    try {
      const refused = await h.cli(['move', mover, '--to', alias, '--json']);
      expect(refused.exitCode, refused.why).toBe(2);
      expect(refused.json().error.message).toMatch(new RegExp(`Docker hosts ${home} and ${alias} are the same engine`));
    } finally {
      expect((await h.cli(['hosts', 'remove', alias])).exitCode).toBe(0);
    }
    const here = await dockerObjectsWithPrefix(`${h.prefix}-${mover}`);
    expect({ containers: here.containers.length, volumes: here.volumes.length }).toEqual({ containers: 4, volumes: 2 });
    expect((await h.adminQuery('SELECT host, status FROM admin_customers WHERE id = $1', [mover]))[0]).toEqual({ host: home, status: 'active' });
  }, 300_000);

  it('kill -9 after the backup (nothing detached yet), then move again while a second one is refused: moved, whole on the engine, nothing left here', async () => {
    await killHard(await startPausedAt(h, ['move', mover, '--to', remote, '--quiet'], 'move:backed-up'));
    expect((await h.adminQuery('SELECT host, status FROM admin_customers WHERE id = $1', [mover]))[0]).toEqual({ host: home, status: 'active' });
    const again = await timed('move here -> engine after a kill (with a second move refused)', async () => {
      const first = await startPausedAt(h, ['move', mover, '--to', remote, '--json'], 'move:detached');
      // The first holds the move lock: a second must not take its running journal row for a crash's and undo it.
      const second = await h.cli(['move', mover, '--to', remote, '--json']);
      expect(second.exitCode, second.why).toBe(5);
      // The first holds the tenant's lock for its whole run: the second neither moves nor settles the first's journal.
      expect(second.json().error.message).toContain(`tenant ${mover} is being changed by another tenantctl process`);
      expect(await h.adminQuery("SELECT step FROM admin_operations WHERE customer_id = $1 AND verb = 'move' AND state = 'running'", [mover])).toEqual([{ step: 'detached' }]);
      first.resume();
      return first.child;
    });
    expect(again.exitCode, String(again.stderr)).toBe(0);
    history.push('undone', 'completed'); // the killed one, settled by the next; that one
    expect(JSON.parse(String(again.stdout))).toMatchObject({ from: home, to: remote, outcome: 'moved' });
    await expectWholeOn(mover, remote, rowsWritten);
  }, 1_200_000);

  it('kill -9 once detached (row and files set aside, nothing restored), then move again: undone, then moved back here', async () => {
    await killHard(await startPausedAt(h, ['move', mover, '--to', home, '--quiet'], 'move:detached'));
    expect(await h.adminQuery("SELECT step FROM admin_operations WHERE customer_id = $1 AND verb = 'move' AND state = 'running'", [mover])).toEqual([{ step: 'detached' }]);
    const watching = watchDoor(mover);
    const again = await timed('move engine -> here after a kill', () => moveTo(home));
    // Undone (its services started again on the engine), then moved: the last time the front door
    // did not answer 200 is this move's own window, from stopping the writers to the target ready.
    const unavailable = await watching.stop();
    timings['front door unavailable during a move (ms)'] = unavailable.windowMs;
    console.log(`front door during move engine -> here: ${JSON.stringify(unavailable)}`);
    expect(again.exitCode, again.why).toBe(0);
    expect(unavailable.windowMs).toBeGreaterThan(0);
    expect(unavailable.statuses).toEqual([503]);
    expect(again.stderr).toContain(`the interrupted move of ${mover} is undone`);
    history.push('undone', 'completed');
    expect(again.json()).toMatchObject({ from: remote, to: home, outcome: 'moved' });
    await expectWholeOn(mover, home, rowsWritten);
  }, 1_200_000);

  it('SIGHUP (a dropped ssh session) while the target restores: exit 129 naming the step, the move undone, the tenant working here', async () => {
    const run = await startPausedAt(h, ['move', mover, '--to', remote], 'restore:staged');
    run.child.kill('SIGHUP');
    const ended = await run.child;
    run.resume();
    expect(ended.exitCode, String(ended.stderr)).toBe(129);
    expect(String(ended.stderr)).toMatch(/tenantctl: hung up \(SIGHUP\) while /);
    expect(String(ended.stderr)).toContain(`it stays on ${home}, working`);
    history.push('undone');
    await expectWholeOn(mover, home, rowsWritten);
  }, 1_200_000);

  it('the target engine stops before the restore: the move fails naming the first cause, and the tenant keeps working here', async () => {
    const paused = await startPausedAt(h, ['move', mover, '--to', remote, '--json'], 'move:detached');
    await fleet.stop(engine);
    // Meanwhile another tenant takes the mover's subnet here: the undo cannot give it back. (Its
    // subnet, not a port: start's readiness reads the tenant's ports from its allocations.)
    const [stolen] = await h.adminQuery(
      "UPDATE admin_allocations SET customer_id = $2 WHERE customer_id = $1 AND host = $3 AND kind = 'subnet' RETURNING value",
      [mover, bystander, home],
    );
    expect(stolen).toBeDefined();
    try {
      paused.resume();
      const failed = await timed('move to a stopped engine', async () => paused.child);
      expect(failed.exitCode, `${failed.stdout}\n${failed.stderr}`).toBe(6);
      const error = JSON.parse(String(failed.stdout)).error;
      expect(error.message).toMatch(new RegExp(`^move of ${mover} to ${remote} failed: .*(not reachable|does not answer|Cannot connect|connect|timed out)`, 'i'));
      // Not "whole on its source": the port another tenant holds now is named.
      expect(error.message).toContain('the move could not be undone completely');
      expect(error.message).toContain(`were taken by another tenant meanwhile (subnet ${stolen.value} on ${home})`);
      expect(error.message, error.message).not.toContain('starting its stopped services');
      await h.adminQuery("UPDATE admin_allocations SET customer_id = $1 WHERE host = $2 AND kind = 'subnet' AND value = $3", [mover, home, stolen.value]);
      expect((await h.adminQuery("SELECT state FROM admin_operations WHERE customer_id = $1 AND verb = 'move' ORDER BY id DESC LIMIT 1", [mover]))[0].state).toBe('undone');
      history.push('undone');
      // Working while the engine is still down: its app, its rows, the front door.
      const [row] = await h.adminQuery('SELECT host, status, app_url FROM admin_customers WHERE id = $1', [mover]);
      expect(row).toMatchObject({ host: home, status: 'active' });
      expect((await fetch(`${row.app_url}/api/health`)).status).toBe(200);
      expect((await door(mover)).status).toBe(200);
    } finally {
      await fleet.start(engine);
    }
    await expectWholeOn(mover, home, rowsWritten);
  }, 1_200_000);

  it('objects of the tenant\'s project on the target that no move of it left there are refused, not removed: the tenant stays working here', async () => {
    const foreign = `${h.prefix}-${mover}_someone-elses`;
    await engine.docker(['volume', 'create', '--label', `com.docker.compose.project=${h.prefix}-${mover}`, foreign]);
    try {
      const refused = await moveTo(remote);
      expect(refused.exitCode, refused.why).toBe(5);
      expect(refused.json().error.message).toContain(foreign);
      expect(refused.json().error.message).toMatch(/it stays on fm-home, working/);
      expect((await onEngine(mover)).volumes).toEqual([foreign]);
      history.push('undone');
    } finally {
      await engine.docker(['volume', 'rm', foreign]);
    }
    await expectWholeOn(mover, home, rowsWritten);
  }, 1_200_000);

  // Every step of the move's own journal, killed with SIGKILL and then settled by another command on
  // the tenant (`start`), or interrupted with Ctrl-C: undone before `restored`, finished from it.
  // (The restore's own steps inside a move are those of kills-restore.test.ts.)
  const where = async () => (await h.adminQuery('SELECT host FROM admin_customers WHERE id = $1', [mover]))[0].host as typeof home | typeof remote;
  const finishedFrom = (step: string) => step === 'move:restored' || step === 'move:source-removed';
  it.each([
    ['SIGKILL', 'move:begun'], ['SIGKILL', 'move:writers-stopped'], ['SIGKILL', 'restore:provisioned'], ['SIGKILL', 'move:source-removed'],
    ['SIGINT', 'move:writers-stopped'], ['SIGINT', 'move:restored'],
  ] as const)('%s at %s, then settled: whole on one host, its rows all there', async (signal, step) => {
    const from = await where();
    const to = from === home ? remote : home;
    const run = await startPausedAt(h, ['move', mover, '--to', to, '--quiet'], step);
    run.child.kill(signal);
    const ended = await run.child;
    run.resume();
    if (signal === 'SIGKILL') {
      expect(ended.signal).toBe('SIGKILL');
      const settled = await h.cli(['start', mover]);
      expect(settled.exitCode, settled.why).toBe(0);
      expect(settled.stderr).toContain(`the interrupted move of ${mover} is ${finishedFrom(step) ? 'finished' : 'undone'}`);
    } else {
      expect(ended.exitCode, String(ended.stderr)).toBe(130);
      expect(String(ended.stderr)).toMatch(/tenantctl: interrupted/);
    }
    history.push(finishedFrom(step) ? 'completed' : 'undone');
    await expectWholeOn(mover, finishedFrom(step) ? to : from, rowsWritten);
  }, 1_200_000);

  it('kill -9 after the restore (target ready, source not yet removed), then move again: finished, whole on the engine', async () => {
    if ((await where()) === remote) {
      expect((await moveTo(home)).exitCode).toBe(0);
      history.push('completed');
    }
    await killHard(await startPausedAt(h, ['move', mover, '--to', remote, '--quiet'], 'move:restored'));
    const again = await timed('finish an interrupted move', () => moveTo(remote));
    expect(again.exitCode, again.why).toBe(0);
    expect(again.stderr).toContain(`the interrupted move of ${mover} is finished`);
    expect(again.json()).toMatchObject({ outcome: 'already-there' });
    await expectWholeOn(mover, remote, rowsWritten);
    history.push('completed');
    // Every move of the file, in order, as its journal closed it: nothing left running, nothing closed otherwise.
    expect((await h.adminQuery("SELECT state FROM admin_operations WHERE customer_id = $1 AND verb = 'move' ORDER BY id", [mover])).map((r) => r.state)).toEqual(history);
  }, 1_200_000);

  it('a frontbase tenant (two SQLite files, Redis, PostgreSQL) moves to the engine with every piece, and nothing is left here', async () => {
    const id = 'fbm';
    const p = await timed('provision frontbase here', () => h.cli(['provision', id, '--template', 'frontbase', '--with', 'postgres', '--host', home, '--json'], { timeoutMs: 600_000 }));
    expect(p.exitCode, p.why).toBe(0);
    const project = `${h.prefix}-${id}`;
    /** A command in the tenant's container of `service`, on this machine or the engine. */
    const run = async (on: 'here' | 'there', service: string, argv: string[]) => {
      const docker = on === 'here' ? async (args: string[]) => (await execa('docker', args)).stdout : engine.docker;
      const c = (await docker(['ps', '-q', '--filter', `label=com.docker.compose.project=${project}`, '--filter', `label=com.docker.compose.service=${service}`])).trim();
      expect(c, `${on} ${service}`).not.toBe('');
      return (await docker(['exec', ...(service === 'edge' ? ['-u', 'frontbase'] : []), c, ...argv])).trim();
    };
    const edgeSql = (on: 'here' | 'there', sql: string) => run(on, 'edge', ['python3', '-c', 'import sqlite3, sys\ndb = sqlite3.connect("/data/edge.db")\nrows = db.execute(sys.argv[1]).fetchall()\ndb.commit()\nprint(rows)', sql]);
    const portsOf = async () => Object.fromEntries((await h.adminQuery("SELECT purpose, value FROM admin_allocations WHERE customer_id = $1 AND kind = 'port'", [id])).map((r) => [r.purpose, Number(r.value)]));
    const db = async (on: 'here' | 'there') => {
      const login = { user: 'frontbase', password: readFileSync(path.join(h.customersDir, id, 'secrets', 'DB_PASSWORD'), 'utf8').trim(), database: 'frontbase_fbm' };
      // The remote engine publishes no database port: reached through it (docker exec), as tenantctl does.
      if (on === 'there') return tenantDbThroughEngine(engine.tcp, { project: `${h.prefix}-${id}`, service: 'postgres' }, login);
      const client = new pg.Client({ host: '127.0.0.1', port: (await portsOf()).postgres, ...login, connectionTimeoutMillis: 10_000 });
      await client.connect();
      return client;
    };
    // One change in every piece.
    expect((await fetch(`${p.json().url}/api/notes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'moved note' }) })).status).toBe(201);
    await edgeSql('here', 'CREATE TABLE marks (n INTEGER)');
    await edgeSql('here', 'INSERT INTO marks VALUES (7)');
    expect(await run('here', 'redis', ['sh', '-c', 'redis-cli --no-auth-warning --askpass SET moved yes </run/secrets/REDIS_PASSWORD'])).toBe('OK');
    const before = await db('here');
    await before.query('CREATE TABLE marks (n int); INSERT INTO marks SELECT generate_series(1, 50)');
    await before.end();

    const moved = await timed('move frontbase to the engine (images shipped)', () => h.cli(['move', id, '--to', remote, '--json'], { timeoutMs: 900_000 }));
    expect(moved.exitCode, moved.why).toBe(0);
    expect(await dockerObjectsWithPrefix(project)).toEqual({ containers: [], networks: [], volumes: [] });
    const [row] = await h.adminQuery('SELECT host, status, app_url FROM admin_customers WHERE id = $1', [id]);
    expect(row).toMatchObject({ host: remote, status: 'active' });
    const notes = await (await fetch(`${row.app_url}/api/notes`)).json();
    expect(notes.notes.map((n: any) => n.text)).toEqual(['moved note']);
    expect(await edgeSql('there', 'SELECT n FROM marks')).toBe('[(7,)]');
    expect(await run('there', 'redis', ['sh', '-c', 'redis-cli --no-auth-warning --askpass GET moved </run/secrets/REDIS_PASSWORD'])).toBe('yes');
    const after = await db('there');
    try {
      expect((await after.query('SELECT count(*)::int AS n, sum(n)::int AS total FROM marks')).rows[0]).toEqual({ n: 50, total: 1275 });
    } finally {
      await after.end();
    }
    const gone = await h.cli(['deprovision', id, '--yes'], { timeoutMs: 300_000 });
    expect(gone.exitCode, gone.why).toBe(0);
    expect(await onEngine(id)).toEqual({ containers: [], networks: [], volumes: [] });
  }, 1_800_000);

  it('deprovisioning both leaves nothing on either engine and takes them off the front door', async () => {
    for (const id of [mover, bystander]) {
      const gone = await h.cli(['deprovision', id, '--yes'], { timeoutMs: 300_000 });
      expect(gone.exitCode, gone.why).toBe(0);
      expect(await onEngine(id)).toEqual({ containers: [], networks: [], volumes: [] });
      expect(await dockerObjectsWithPrefix(`${h.prefix}-${id}`)).toEqual({ containers: [], networks: [], volumes: [] });
      expect((await door(id)).status).toBe(404);
    }
  }, 600_000);
});
