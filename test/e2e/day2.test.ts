// Day-2 operations on a live tenant, end to end on the real Docker engine: stop and start keep the
// data, list shows a stopped tenant as stopped, logs --follow streams a line written after it
// started and ends on Ctrl-C with exit 0, psql piped and on a pseudo-terminal, exec's exit code,
// redis-cli, restart of one service, and stats covering every service. One tenant, provisioned
// here; every test starts from an active tenant (`start` is a no-op on one), so none depends on
// another's leftovers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import net from 'node:net';
import { cliPath, createHarness, type Harness } from './harness.js';

let h: Harness;
const id = 'acme';
let project = '';

/** The CLI with stdin given (the harness's cli() closes stdin). */
async function cli(args: string[], { input, timeoutMs = 120_000 }: { input?: string; timeoutMs?: number } = {}) {
  const result = await execa('node', [cliPath, ...args], { cwd: h.dir, env: h.env, reject: false, stripFinalNewline: false, timeout: timeoutMs, ...(input === undefined ? { stdin: 'ignore' as const } : { input }) });
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

/** The CLI on a pseudo-terminal (util-linux `script`): stdin and stdout are terminals. */
async function onTerminal(args: string[]) {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const command = ['node', cliPath, ...args].map(quote).join(' ');
  const result = await execa('script', ['-qec', command, '/dev/null'], { cwd: h.dir, env: h.env, reject: false, timeout: 60_000, stdin: 'ignore' });
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout) };
}

async function ensureActive() {
  const r = await cli(['start', id, '--json']);
  expect(r.exitCode, r.stderr).toBe(0);
}

const containerStates = async () =>
  (await execa('docker', ['ps', '-a', '--filter', `label=com.docker.compose.project=${project}`, '--format', '{{.Label "com.docker.compose.service"}} {{.State}}'])).stdout
    .split('\n').filter(Boolean).sort();

beforeAll(async () => {
  h = await createHarness('day2');
  const r = await h.cli(['provision', id, '--json']);
  if (r.exitCode !== 0) throw new Error(`provisioning ${id} failed:\n${r.why}`);
  project = r.json().project;
}, 300_000);

afterAll(async () => {
  await h?.cleanup();
}, 120_000);

describe('day-2 operations', () => {
  it('stop keeps the containers and the data, list shows it stopped, start brings it back ready', async () => {
    await ensureActive();
    const note = `kept-${Date.now()}`;
    const write = await cli(['psql', id, '--', '-v', 'ON_ERROR_STOP=1', '-q'], { input: `create table if not exists day2_notes (note text); insert into day2_notes values ('${note}');\n` });
    expect(write.exitCode, write.stderr).toBe(0);

    const stop = await cli(['stop', id, '--json']);
    expect(stop.exitCode, stop.stderr).toBe(0);
    expect(JSON.parse(stop.stdout)).toMatchObject({ id, outcome: 'stopped', status: 'stopped' });
    // Stopped, not removed: the four containers are there, none running.
    expect(await containerStates()).toEqual(['app exited', 'db exited', 'redis exited', 'worker exited']);

    const list = await cli(['list', '--json']);
    expect(JSON.parse(list.stdout).find((t: any) => t.id === id)).toMatchObject({ status: 'stopped', live: 'stopped' });
    const text = await cli(['list']);
    // ID, NAME, HOST, TEMPLATE, STATUS, LIVE
    expect(text.stdout).toMatch(new RegExp(`${id}\\s+${id}\\s+\\S+\\s+crm\\s+stopped\\s+stopped`));

    const refused = await cli(['exec', id, 'app', '--', 'true']);
    expect(refused.exitCode).toBe(5);
    expect(refused.stderr).toContain(`tenant ${id} is stopped`);
    expect((await cli(['stop', id, '--json'])).stdout).toContain('"already-stopped"');
    // provision would clean a stopped tenant up as a failed attempt (down -v): it is refused instead.
    const reprovision = await cli(['provision', id]);
    expect(reprovision.exitCode, reprovision.stderr).toBe(5);
    expect(reprovision.stderr).toContain(`tenantctl start ${id}`);
    expect(await containerStates()).toEqual(['app exited', 'db exited', 'redis exited', 'worker exited']);

    // A port taken by something else while the tenant was stopped: exit 5 saying so, nothing lost.
    const [row] = await h.adminQuery('SELECT app_port FROM admin_customers WHERE id = $1', [id]);
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen(row.app_port, '127.0.0.1', resolve));
    try {
      const blocked = await cli(['start', id]);
      expect(blocked.exitCode, blocked.stderr).toBe(5);
      expect(blocked.stderr).toContain(`port ${row.app_port} was taken by something else`);
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }

    const start = await cli(['start', id, '--json']);
    expect(start.exitCode, start.stderr).toBe(0);
    expect(JSON.parse(start.stdout)).toMatchObject({ id, outcome: 'started', status: 'active' });
    const read = await cli(['psql', id, '--', '-At'], { input: 'select note from day2_notes;\n' });
    expect(read.stdout.split('\n')).toContain(note);

    const audit = await h.adminQuery("SELECT action FROM admin_audit_logs WHERE customer_id = $1 AND action LIKE 'tenant.%' ORDER BY id", [id]);
    expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining(['tenant.stopped', 'tenant.started']));
  }, 180_000);

  it('logs --follow receives a line written after it started, and Ctrl-C ends it with exit 0, no rollback', async () => {
    await ensureActive();
    const follow = execa('node', [cliPath, 'logs', id, '--follow', '--tail', '0', '--service', 'redis'], { cwd: h.dir, env: h.env, reject: false, stdin: 'ignore', timeout: 60_000 });
    let out = '';
    follow.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    // A line on the redis container's own stdout (what its log driver records), written until the
    // stream shows one: each marker is written after the follow began.
    const redis = (await execa('docker', ['ps', '-q', '--filter', `label=com.docker.compose.project=${project}`, '--filter', 'label=com.docker.compose.service=redis'])).stdout.trim();
    const deadline = Date.now() + 30_000;
    for (let n = 1; !out.includes('day2-marker-') && Date.now() < deadline; n++) {
      await execa('docker', ['exec', redis, 'sh', '-c', `echo day2-marker-${n} > /proc/1/fd/1`]);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(out).toMatch(/day2-marker-\d+/);
    follow.kill('SIGINT');
    const ended = await follow;
    expect(ended.exitCode, String(ended.stderr)).toBe(0);
    expect(String(ended.stderr)).not.toMatch(/rolling back/);
  }, 60_000);

  it('psql works piped and on a pseudo-terminal, as owner or app, and returns psql\'s exit code', async () => {
    await ensureActive();
    const piped = await cli(['psql', id, '--', '-At'], { input: 'select 40 + 2;\n' });
    expect(piped.exitCode, piped.stderr).toBe(0);
    expect(piped.stdout.trim()).toBe('42');
    const asApp = await cli(['psql', id, '--as', 'app', '--', '-At', '-c', 'select current_user']);
    expect(asApp.stdout.trim()).toBe('tenant_app');
    // A failing script with ON_ERROR_STOP: psql exits 3, and so does tenantctl.
    const failing = await cli(['psql', id, '--', '-v', 'ON_ERROR_STOP=1'], { input: 'select no_such_column;\n' });
    expect(failing.exitCode).toBe(3);

    const tty = await onTerminal(['psql', id, '--', '-P', 'pager=off', '-At', '-c', 'select 6 * 7']);
    expect(tty.exitCode, tty.stdout).toBe(0);
    expect(tty.stdout).toContain('42');
  }, 60_000);

  it('exec gets a terminal only on one, and returns the child\'s exit code', async () => {
    await ensureActive();
    const check = ['exec', id, 'app', '--', 'sh', '-c', 'if [ -t 0 ]; then echo TTY; else echo PIPE; fi'];
    expect((await cli(check)).stdout.trim()).toBe('PIPE');
    expect((await onTerminal(check)).stdout).toContain('TTY');

    expect((await cli(['exec', id, 'app', '--', 'sh', '-c', 'exit 7'])).exitCode).toBe(7);
    const echoed = await cli(['exec', id, 'worker', '--', 'cat'], { input: 'through stdin\n' });
    expect(echoed.stdout).toBe('through stdin\n');

    const unknownService = await cli(['exec', id, 'nosuch', '--', 'true']);
    expect(unknownService.exitCode).toBe(2);
    expect(unknownService.stderr).toContain('app, db, redis, worker');
    expect((await cli(['exec', 'nosuchtenant', 'app', '--', 'true'])).exitCode).toBe(3);
  }, 60_000);

  it('redis-cli answers PING with the password from the environment', async () => {
    await ensureActive();
    const r = await cli(['redis-cli', id, '--', 'PING']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('PONG');
  }, 30_000);

  it('restart --service app restarts that service and waits until the tenant is ready', async () => {
    await ensureActive();
    const r = await cli(['restart', id, '--service', 'app', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ outcome: 'restarted', services: ['app'], status: 'active' });
    expect((await cli(['restart', id, '--service', 'nosuch'])).exitCode).toBe(2);
  }, 120_000);

  it('stats lists every service of the tenant with figures from docker stats', async () => {
    await ensureActive();
    const r = await cli(['stats', id, '--sort', 'name', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const tenant = JSON.parse(r.stdout).tenants.find((t: any) => t.id === id);
    expect(tenant.services.map((s: any) => s.service)).toEqual(['app', 'db', 'redis', 'worker']);
    for (const s of tenant.services) {
      expect(s.state).toBe('running');
      expect(s.memory.usedBytes).toBeGreaterThan(0);
      expect(s.memory.limitBytes).toBeGreaterThan(0);
    }
    expect(tenant.total.memory.usedBytes).toBe(tenant.services.reduce((n: number, s: any) => n + s.memory.usedBytes, 0));
    expect((await cli(['stats', '--sort', 'disk'])).exitCode).toBe(2);
  }, 60_000);
});
