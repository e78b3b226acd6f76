// What both benchmarks share: a private customers dir, state dir, compose project prefix and
// admin database for one run, and the removal of everything that prefix created.
import { execa } from 'execa';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import getPort from 'get-port';

export const root = path.resolve(import.meta.dirname, '..');
export const cli = path.join(root, 'bin', 'tenantctl.js');

export async function benchEnvironment(name) {
  const dir = mkdtempSync(path.join(tmpdir(), `tenantctl-${name}-`));
  const prefix = `${name}${Date.now().toString(36)}`;
  const env = {
    ...process.env,
    TENANTCTL_CUSTOMERS_DIR: path.join(dir, 'customers'),
    TENANTCTL_STATE_DIR: path.join(dir, 'state'),
    TENANTCTL_PROJECT_PREFIX: prefix,
    TENANTCTL_ADMIN_PROJECT: `${prefix}-admin`,
    TENANTCTL_ADMIN_DB_PORT: String(await getPort()),
  };
  const run = (file, args, options = {}) => execa(file, args, { env, cwd: dir, timeout: 300_000, ...options });
  const composeCmd = (await execa('docker', ['compose', 'version'], { reject: false })).exitCode === 0 ? ['docker', 'compose'] : ['docker-compose'];

  async function cleanup() {
    await run(composeCmd[0], [...composeCmd.slice(1), '-p', `${prefix}-admin`, '-f', path.join(root, 'docker-compose.local.yml'), 'down', '-v'], {
      reject: false,
      env: { ...env, TENANTCTL_ADMIN_DB_PASSWORD: 'unused-for-down' },
    });
    // Whatever a failed round left: everything this run created carries its unique prefix.
    const ids = async (args) => (await run('docker', args, { reject: false })).stdout.split('\n').filter(Boolean);
    const containers = await ids(['ps', '-aq', '--filter', `name=${prefix}`]);
    if (containers.length) await run('docker', ['rm', '-fv', ...containers], { reject: false });
    const networks = await ids(['network', 'ls', '-q', '--filter', `name=${prefix}`]);
    if (networks.length) await run('docker', ['network', 'rm', ...networks], { reject: false });
    const volumes = await ids(['volume', 'ls', '-q', '--filter', `name=${prefix}`]);
    if (volumes.length) await run('docker', ['volume', 'rm', '-f', ...volumes], { reject: false });
    rmSync(dir, { recursive: true, force: true });
  }

  return { dir, prefix, env, run, composeCmd, cleanup };
}

/**
 * Substitutes every {{name}} in a parsed template's keys and values (not its comments), as
 * tenantctl's renderer does; a name the caller does not define is an error naming it.
 */
export function substitutePlaceholders(tree, variables, what = 'template') {
  const substitute = (text) =>
    text.replace(/\{\{\s*([a-z_][a-z0-9_]*(?:\.[a-z][a-z0-9_-]*)?)\s*\}\}/g, (_, name) => {
      if (!(name in variables)) throw new Error(`the ${what} uses {{${name}}}, which the benchmark does not define`);
      return variables[name];
    });
  const walk = (node) => {
    if (typeof node === 'string') return substitute(node);
    if (Array.isArray(node)) return node.map(walk);
    if (node && typeof node === 'object') return Object.fromEntries(Object.entries(node).map(([k, v]) => [substitute(k), walk(v)]));
    return node;
  };
  return walk(tree);
}

/**
 * Runs programs as children of a benchmark, each in its own process group (a terminal's Ctrl-C
 * reaches the bench alone, and each tenantctl gets a signal exactly once: a second would make it
 * skip its rollback), remembered so the bench can pass a signal on once and wait for them.
 */
export function childRunner({ env, cwd, timeoutMs }) {
  const children = new Set();
  function run(file, args, options = {}) {
    const child = execa(file, args, { env, cwd, timeout: timeoutMs, detached: true, ...options });
    children.add(child);
    const forget = () => children.delete(child);
    child.then(forget, forget);
    return child;
  }
  return { run, children };
}
