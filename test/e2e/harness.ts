// Shared pieces of the end-to-end tests: run the real CLI against the real Docker engine, with a
// private customers dir, state dir, compose project prefix and admin database per test file, and
// remove everything that prefix created afterwards.
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import getPort from 'get-port';
import pg from 'pg';
import { currentLane, laneEnv } from './lanes.js';

const root = path.resolve(import.meta.dirname, '..', '..');
export const cliPath = path.join(root, 'bin', 'tenantctl.js');

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  json: () => any;
  /**
   * Why the command ended as it did, in a few lines, for assertion messages
   * (`expect(r.exitCode, r.why).toBe(0)`): the JSON error document's message and details when
   * --json printed one, a batch's failed tenants, else the "tenantctl: ..." line(s) from stderr
   * with their detail lines; never the progress lines before them.
   */
  why: string;
}

export interface Harness {
  prefix: string;
  dir: string;
  customersDir: string;
  env: Record<string, string>;
  cli(args: string[], options?: { env?: Record<string, string>; timeoutMs?: number }): Promise<CliResult>;
  adminQuery<T extends pg.QueryResultRow = any>(sql: string, params?: unknown[]): Promise<T[]>;
  cleanup(): Promise<void>;
}

export async function createHarness(name: string, extraEnv: Record<string, string> = {}): Promise<Harness> {
  const runId = `${name}${Date.now().toString(36)}`.replace(/[^a-z0-9]/g, '').slice(-16);
  const prefix = `tct${runId}`;
  const dir = mkdtempSync(path.join(tmpdir(), `tenantctl-${name}-`));
  const customersDir = path.join(dir, 'customers');
  // With test lanes (scripts/test.mjs), the tenants' host ports and subnets of the lane (lanes.ts).
  const env = laneEnv({
    TENANTCTL_CUSTOMERS_DIR: customersDir,
    TENANTCTL_STATE_DIR: path.join(dir, 'state'),
    TENANTCTL_PROJECT_PREFIX: prefix,
    TENANTCTL_ADMIN_PROJECT: `${prefix}-admin`,
    TENANTCTL_ADMIN_DB_PORT: String(await getPort()),
    TENANTCTL_HEALTH_DEADLINE: '90',
    TENANTCTL_ACTOR: `e2e-${name}`,
    ...extraEnv,
  }, currentLane());
  let adminPool: pg.Pool | undefined;

  const cli: Harness['cli'] = async (args, options = {}) => {
    const result = await execa('node', [cliPath, ...args], {
      cwd: dir,
      env: { ...env, ...options.env },
      reject: false,
      timeout: options.timeoutMs ?? 300_000,
      stdin: 'ignore',
    });
    const stdout = String(result.stdout);
    const stderr = String(result.stderr);
    const exitCode = result.exitCode ?? -1;
    const ended = result.timedOut ? `killed after ${options.timeoutMs ?? 300_000} ms` : result.signal ? `killed by ${result.signal}` : undefined;
    return {
      exitCode,
      stdout,
      stderr,
      json: () => JSON.parse(stdout),
      why: whyOf(`tenantctl ${args.join(' ')}`, exitCode, stdout, stderr, ended),
    };
  };

  return {
    prefix,
    dir,
    customersDir,
    env,
    cli,
    async adminQuery(sql, params = []) {
      if (!adminPool) {
        const password = /TENANTCTL_ADMIN_DB_PASSWORD=(\S+)/.exec(readFileSync(path.join(env.TENANTCTL_STATE_DIR!, 'admin-db.env'), 'utf8'))![1];
        adminPool = new pg.Pool({ host: '127.0.0.1', port: Number(env.TENANTCTL_ADMIN_DB_PORT), user: 'tenantctl', password, database: 'tenantctl_admin', max: 2 });
        adminPool.on('error', () => {}); // tests stop the admin database on purpose
      }
      return (await adminPool.query(sql, params)).rows;
    },
    async cleanup() {
      await adminPool?.end();
      await removeDockerObjectsWithPrefix(prefix);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// eslint-disable-next-line no-control-regex
const ansi = /\x1b\[[0-9;]*[A-Za-z]/g;

/** See CliResult.why. */
export function whyOf(command: string, exitCode: number, stdout: string, stderr: string, ended?: string): string {
  const head = `${command.length > 120 ? `${command.slice(0, 117)}...` : command}: exit ${exitCode}${ended ? ` (${ended})` : ''}`;
  let document: any;
  try {
    document = JSON.parse(stdout);
  } catch {
    document = undefined;
  }
  const lines: string[] = [];
  if (document?.error) {
    lines.push(`${document.error.code}: ${document.error.message}`, ...(document.error.details ?? []).map((d: string) => `  ${d}`));
  } else if (document?.kind === 'batch' && Array.isArray(document.tenants)) {
    for (const t of document.tenants.filter((t: any) => !t.ok)) lines.push(`${t.id}: ${t.error?.code}: ${t.error?.message}`, ...(t.error?.details ?? []).map((d: string) => `    ${d}`));
    if (document.summary) lines.push(`summary ${JSON.stringify(document.summary)}`);
  }
  if (lines.length === 0) {
    // The error line(s) main() prints, "tenantctl: message", and the indented details after each.
    const all = stderr.replace(ansi, '').split('\n');
    let inError = false;
    for (const line of all) {
      if (line.startsWith('tenantctl:')) inError = true;
      else if (!/^\s+\S/.test(line)) inError = false;
      if (inError) lines.push(line);
    }
    // Anything else (commander's own messages, a crash): the last lines of stderr.
    if (lines.length === 0 && exitCode !== 0) lines.push(...all.filter((l) => l.trim()).slice(-5));
  }
  return [head, ...lines].join('\n');
}

const docker = async (args: string[]) => (await execa('docker', args, { timeout: 60_000 })).stdout;

/** Compose projects whose name starts with the prefix, as Docker reports them (containers, networks, volumes). */
export async function dockerObjectsWithPrefix(prefix: string): Promise<{ containers: string[]; networks: string[]; volumes: string[] }> {
  const fmt = '{{.ID}} {{.Label "com.docker.compose.project"}}';
  const pick = (out: string) =>
    out.split('\n').filter(Boolean).map((l) => l.split(' ')).filter(([, project]) => project?.startsWith(prefix)).map(([id]) => id!);
  const [containers, networks, volumes] = await Promise.all([
    docker(['ps', '-a', '--filter', 'label=com.docker.compose.project', '--format', fmt]),
    docker(['network', 'ls', '--filter', 'label=com.docker.compose.project', '--format', fmt]),
    docker(['volume', 'ls', '--filter', 'label=com.docker.compose.project', '--format', '{{.Name}} {{.Label "com.docker.compose.project"}}']),
  ]);
  return { containers: pick(containers), networks: pick(networks), volumes: pick(volumes) };
}

/**
 * The image tags of the prefix's compose projects: upgrade's rollback pins
 * (tenantctl-rollback:<project>-<service>, src/stack/rollback-pins.ts), which only a deprovision of
 * the tenant removes, so a file that leaves a tenant it upgraded to the harness would leave them.
 */
export async function rollbackPinsWithPrefix(prefix: string): Promise<string[]> {
  const out = await docker(['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}', '--filter', `reference=tenantctl-rollback:${prefix}*`]);
  return out.split('\n').filter(Boolean);
}

/** Everything of the prefix: its compose projects' containers (with their anonymous volumes: rm -v), networks, volumes, and rollback pins. */
export async function removeDockerObjectsWithPrefix(prefix: string): Promise<void> {
  const left = await dockerObjectsWithPrefix(prefix);
  if (left.containers.length) await docker(['rm', '-fv', ...left.containers]);
  if (left.networks.length) await docker(['network', 'rm', ...left.networks]);
  if (left.volumes.length) await docker(['volume', 'rm', '-f', ...left.volumes]);
  // Only the tags, as deprovision removes them (an image goes with its last tag when no container uses it).
  for (const pin of await rollbackPinsWithPrefix(prefix)) {
    const removed = await execa('docker', ['image', 'rm', '--no-prune', pin], { timeout: 60_000, reject: false });
    // Still the only tag of an image another container runs: the tag stays with it, as in src/stack/rollback-pins.ts.
    if (removed.exitCode !== 0 && !/being used|conflict/i.test(removed.stderr)) throw new Error(`docker image rm ${pin}: ${removed.stderr}`);
  }
}

/** Containers of one compose project by service name. */
export async function containerOf(project: string, service: string): Promise<string> {
  const id = (await docker(['ps', '-q', '--filter', `label=com.docker.compose.project=${project}`, '--filter', `label=com.docker.compose.service=${service}`])).trim();
  if (!id) throw new Error(`no ${service} container in ${project}`);
  return id;
}

export async function inspect(id: string): Promise<any> {
  return JSON.parse(await docker(['inspect', id]))[0];
}

export async function dockerExec(container: string, argv: string[]) {
  return execa('docker', ['exec', container, ...argv], { reject: false, timeout: 30_000 });
}

/**
 * Points the harness's front door at free high ports of its own, loopback only, in a compose
 * project carrying the harness's prefix (so removal by prefix takes it too); `extra` adds settings.
 */
export async function useOwnFrontdoor(h: Harness, extra: Record<string, string> = {}): Promise<{ http: number; https: number }> {
  const ports = { http: await getPort(), https: await getPort() };
  Object.assign(h.env, {
    TENANTCTL_FRONTDOOR_PROJECT: `${h.prefix}fd`,
    TENANTCTL_FRONTDOOR_LISTEN_ADDRESS: '127.0.0.1',
    TENANTCTL_FRONTDOOR_HTTP_PORT: String(ports.http),
    TENANTCTL_FRONTDOOR_HTTPS_PORT: String(ports.https),
    TENANTCTL_FRONTDOOR_GATEWAY_PORT: String(await getPort()),
    ...extra,
  });
  return ports;
}

/** A stopwatch writing each named step's milliseconds into `timings` (printed by the file at the end). */
export function stopwatch(timings: Record<string, number>) {
  return async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      return await work();
    } finally {
      timings[name] = Math.round(performance.now() - started);
    }
  };
}
