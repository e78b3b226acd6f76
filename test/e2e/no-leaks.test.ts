// Secrets stay where they belong (review items 16 and 17, issue 21): no secret value on any
// process's command line on the host while a tenant is provisioned and its secrets rotated (`ps`
// sampled every ~20 ms), none of tenantctl's own environment (TENANTCTL_MASTER_KEY, or anything else
// the operator's shell holds) in any tenant container, and a template that would interpolate from the
// environment refused before anything exists.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createHarness, dockerObjectsWithPrefix, inspect, type Harness } from './harness.js';

const root = path.resolve(import.meta.dirname, '..', '..');
const masterKey = randomBytes(32).toString('hex');
const canary = `canary-${randomBytes(12).toString('hex')}`;
const marker = `marker-${randomBytes(12).toString('hex')}`;
let h: Harness;

/** Every distinct line `ps -eww -o args` printed while `during` ran, sampled about every 20 ms. */
async function commandLinesDuring<T>(during: () => Promise<T>): Promise<{ result: T; lines: Set<string>; samples: number }> {
  const lines = new Set<string>();
  let samples = 0;
  let pending = '';
  const sampler = spawn('sh', ['-c', 'while :; do ps -eww -o args; echo "--sample--"; sleep 0.02; done'], { stdio: ['ignore', 'pipe', 'ignore'] });
  sampler.stdout.setEncoding('utf8');
  sampler.stdout.on('data', (text: string) => {
    pending += text;
    const parts = pending.split('\n');
    pending = parts.pop() ?? '';
    for (const line of parts) if (line === '--sample--') samples += 1; else lines.add(line);
  });
  try {
    const result = await during();
    return { result, lines, samples };
  } finally {
    sampler.kill('SIGTERM');
  }
}

const secretsOf = (id: string) => {
  const dir = path.join(h.customersDir, id, 'secrets');
  // The secret files themselves; the user-<uid>-<gid>/ folders hold copies of the same values.
  return readdirSync(dir, { withFileTypes: true }).filter((entry) => entry.isFile()).map((entry) => readFileSync(path.join(dir, entry.name), 'utf8').trim());
};

const leaked = (lines: Set<string>, values: string[]) => [...lines].filter((line) => values.some((value) => line.includes(value)));

beforeAll(async () => {
  h = await createHarness('leaks', { TENANTCTL_MASTER_KEY: masterKey, LEAK_CANARY_TOKEN: canary });
}, 60_000);

afterAll(async () => {
  await h?.cleanup();
}, 120_000);

describe('no secret on a command line, none of tenantctl\'s environment in a container', () => {
  let provisionLines: Set<string>;
  let provisionSamples = 0;

  beforeAll(async () => {
    // The control: a process that holds a marker in its argv for 0.2 s must be seen, or the
    // sampler proves nothing.
    const { result, lines, samples } = await commandLinesDuring(async () => {
      const control = spawn('sh', ['-c', 'sleep 0.2', 'sh', marker], { stdio: 'ignore' });
      const provisioned = await h.cli(['provision', 'quiet', '--json']);
      control.kill();
      return provisioned;
    });
    if (result.exitCode !== 0) throw new Error(`provision failed: ${result.why}`);
    provisionLines = lines;
    provisionSamples = samples;
  }, 300_000);

  it('shows no secret of the tenant in any process\'s argv during provision', () => {
    expect(provisionSamples).toBeGreaterThan(20);
    expect([...provisionLines].some((line) => line.includes(marker))).toBe(true);
    const values = [...secretsOf('quiet'), masterKey, canary];
    expect(leaked(provisionLines, values)).toEqual([]);
  });

  it('hands no container tenantctl\'s environment: not the master key, not the operator\'s other variables', async () => {
    const { execa } = await import('execa');
    const ids = (await execa('docker', ['ps', '-q', '--filter', `label=com.docker.compose.project=${h.prefix}-quiet`])).stdout.split('\n').filter(Boolean);
    expect(ids.length).toBe(4);
    for (const id of ids) {
      const env: string[] = (await inspect(id)).Config.Env;
      expect(env.filter((kv) => kv.includes(masterKey) || kv.includes(canary) || kv.startsWith('TENANTCTL_'))).toEqual([]);
    }
  });

  it('shows neither the old nor the new values in any process\'s argv during rotate-secrets', async () => {
    const old = secretsOf('quiet');
    const { result, lines, samples } = await commandLinesDuring(() => h.cli(['rotate-secrets', 'quiet', '--json']));
    expect(result.exitCode, result.why).toBe(0);
    const fresh = secretsOf('quiet');
    expect(fresh.filter((value) => old.includes(value))).toEqual([]);
    expect(samples).toBeGreaterThan(20);
    expect(leaked(lines, [...old, ...fresh, masterKey])).toEqual([]);
  }, 300_000);
});

describe('a template that interpolates from the environment', () => {
  it('is refused on one line with exit 2, by validate and by provision, with nothing created', async () => {
    const templates = path.join(h.dir, 'operator-templates');
    const dir = path.join(templates, 'homely');
    mkdirSync(dir, { recursive: true });
    cpSync(path.join(root, 'templates', 'crm'), dir, { recursive: true });
    const file = path.join(dir, 'docker-compose.tenant.yml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('      MODE: web\n', () => '      MODE: web\n      OPERATOR_HOME: "${HOME}"\n'));

    const validate = await h.cli(['templates', 'validate', dir]);
    expect(validate.exitCode, validate.why).toBe(2);
    const errorLines = validate.stderr.trim().split('\n').filter((line) => line.startsWith('tenantctl:'));
    expect(errorLines).toHaveLength(1);
    expect(errorLines[0]).toMatch(/services\.app\.environment\.OPERATOR_HOME: \$\{HOME\}/);

    const provision = await h.cli(['provision', 'homely-one', '--template', 'homely'], { env: { TENANTCTL_TEMPLATES_DIR: templates } });
    expect(provision.exitCode, provision.why).toBe(2);
    expect(provision.stderr).toMatch(/\$\{HOME\}/);
    expect(await dockerObjectsWithPrefix(`${h.prefix}-homely-one`)).toEqual({ containers: [], networks: [], volumes: [] });
  });

  it('keeps $$ (a literal $) allowed', async () => {
    const dir = path.join(h.dir, 'dollars');
    cpSync(path.join(root, 'templates', 'crm'), dir, { recursive: true });
    const file = path.join(dir, 'docker-compose.tenant.yml');
    // A function, not a replacement string: there, "$$" would become "$".
    writeFileSync(file, readFileSync(file, 'utf8').replace('      MODE: web\n', () => '      MODE: web\n      PRICE: "$$5"\n'));
    const validate = await h.cli(['templates', 'validate', dir]);
    expect(validate.exitCode, validate.why).toBe(0);
  });
});
