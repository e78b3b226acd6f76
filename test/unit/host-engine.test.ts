// One engine, one name: a DockerHost learns its engine's ID once per process (over the socket's
// API when it has one), and a reservation records it on an implicit host or refuses a second name.
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { DockerHost } from '../../src/engine/docker-host.js';
import { claimEngine } from '../../src/allocation/host-engine.js';
import { TenantctlError } from '../../src/common/errors.js';
import { tempDir } from './temp-dirs.js';

describe('DockerHost.engineId', () => {
  let server: http.Server;
  let socket: string;
  let asked = 0;
  let answer: { status: number; body: string } = { status: 200, body: JSON.stringify({ ID: 'ENGINE-A' }) };

  beforeAll(async () => {
    socket = path.join(tempDir('tenantctl-engine-'), 'docker.sock');
    server = http.createServer((request, response) => {
      if (request.url === '/info') asked += 1;
      response.writeHead(request.url === '/info' ? answer.status : 404, { 'content-type': 'application/json' }).end(answer.body);
    });
    await new Promise<void>((resolve) => server.listen(socket, resolve));
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('asks GET /info over the socket once per DockerHost, and keeps no failure', async () => {
    answer = { status: 500, body: JSON.stringify({ message: 'daemon busy' }) };
    const host = new DockerHost('h1', { kind: 'unix', url: `unix://${socket}` });
    await expect(host.engineId()).rejects.toThrow(/docker API GET \/info answered 500: daemon busy/);
    answer = { status: 200, body: JSON.stringify({ ID: 'ENGINE-A' }) };
    asked = 0;
    const [first, second] = await Promise.all([host.engineId(), host.engineId()]);
    expect([first, second, await host.engineId()]).toEqual(['ENGINE-A', 'ENGINE-A', 'ENGINE-A']);
    expect(asked).toBe(1);
  });

  it('an engine that says no ID is an error (exit 6), not an empty identity', async () => {
    answer = { status: 200, body: JSON.stringify({ ServerVersion: '20.10' }) };
    const error = await new DockerHost('h2', { kind: 'unix', url: `unix://${socket}` }).engineId().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TenantctlError);
    expect((error as TenantctlError).exitCode).toBe(6);
    expect((error as TenantctlError).message).toContain('did not say its ID');
  });

  it('an ID a probe already heard costs nothing', async () => {
    asked = 0;
    const host = new DockerHost('h3', { kind: 'unix', url: `unix://${socket}` });
    host.rememberEngineId('ENGINE-B');
    expect(await host.engineId()).toBe('ENGINE-B');
    expect(asked).toBe(0);
  });
});

/** admin_hosts in memory, answering exactly the statements claimEngine sends. */
function fakeHosts(rows: Array<{ name: string; docker_endpoint?: string | null; engine_id?: string | null; state?: string }>) {
  const hosts = new Map(rows.map((r) => [r.name, { docker_endpoint: null, engine_id: null, state: 'active', ...r }]));
  const audit: unknown[] = [];
  const client = {
    async query(sql: string, params: unknown[] = []) {
      if (/pg_advisory_xact_lock/.test(sql)) return { rows: [] };
      if (/FROM admin_hosts WHERE name = \$1 FOR UPDATE/.test(sql)) return { rows: hosts.has(params[0] as string) ? [hosts.get(params[0] as string)] : [] };
      if (/FROM admin_hosts WHERE engine_id = \$1 AND name <> \$2/.test(sql)) {
        return { rows: [...hosts.values()].filter((h) => h.engine_id === params[0] && h.name !== params[1] && h.state !== 'removed').map((h) => ({ name: h.name })) };
      }
      if (/UPDATE admin_hosts SET engine_id/.test(sql)) {
        hosts.get(params[0] as string)!.engine_id = params[1] as string;
        return { rows: [] };
      }
      if (/INSERT INTO admin_audit_logs/.test(sql)) {
        audit.push(params);
        return { rows: [] };
      }
      throw new Error(`unexpected SQL: ${sql}`);
    },
  } as unknown as pg.ClientBase;
  return { client, hosts, audit };
}

const db = { actor: 'test' };
const refusal = (promise: Promise<unknown>) => promise.then(() => expect.unreachable(), (error: unknown) => error as TenantctlError);

describe('claimEngine (in the reservation transaction)', () => {
  it('records the engine of an implicit host the first time, with an audit row; then finds it recorded', async () => {
    const { client, hosts, audit } = fakeHosts([{ name: 'web1' }]);
    await claimEngine(db, client, 'web1', 'E1');
    expect(hosts.get('web1')!.engine_id).toBe('E1');
    expect(audit).toHaveLength(1);
    await claimEngine(db, client, 'web1', 'E1');
    expect(audit).toHaveLength(1);
  });

  it('refuses (exit 5) a second name for an engine, saying which name it has and to set TENANTCTL_HOST_ID', async () => {
    const { client, hosts } = fakeHosts([{ name: 'web1', engine_id: 'E1' }, { name: 'renamed' }]);
    const error = await refusal(claimEngine(db, client, 'renamed', 'E1'));
    expect(error.exitCode).toBe(5);
    expect(error.message).toMatch(/registered as Docker host web1 .*set TENANTCTL_HOST_ID=web1 \(one engine, one name\)/);
    expect(hosts.get('renamed')!.engine_id).toBeNull();
  });

  it('refuses (exit 5) a name recorded with another engine (a reinstalled machine, two machines with one hostname)', async () => {
    const { client } = fakeHosts([{ name: 'ubuntu', engine_id: 'E1' }]);
    const error = await refusal(claimEngine(db, client, 'ubuntu', 'E2'));
    expect(error.exitCode).toBe(5);
    expect(error.message).toContain('Docker host ubuntu is recorded as engine E1');
    expect(error.message).toContain('TENANTCTL_HOST_ID');
  });

  it('a removed host\'s engine may be claimed under a new name', async () => {
    const { client, hosts } = fakeHosts([{ name: 'old', engine_id: 'E1', state: 'removed' }, { name: 'new' }]);
    await claimEngine(db, client, 'new', 'E1');
    expect(hosts.get('new')!.engine_id).toBe('E1');
  });
});
