import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { defaultTemplatePath } from '../../src/common/paths.js';
import { tempDir as newTempDir } from './temp-dirs.js';

const tempDir = () => newTempDir('tenantctl-config-');

describe('loadConfig', () => {
  it('works with no file and no environment, resolving directories against cwd', () => {
    const cwd = tempDir();
    const { config, errors } = loadConfig({ cwd, env: {} });
    expect(errors).toEqual([]);
    expect(config?.customersDir).toBe(path.join(cwd, 'customers'));
    expect(config?.templatePath).toBe(defaultTemplatePath);
    expect(config?.ports.app).toEqual({ from: 3001, to: 3999 });
    expect(config?.ports.db.from).toBe(5434);
    expect(config?.ports.redis.from).toBe(6380);
    expect(config?.bindAddress).toBe('127.0.0.1');
    expect(config?.images.postgres).toBe('tenantctl/postgres:15');
  });

  it('reads tenantctl.config.yaml and lets TENANTCTL_* variables win', () => {
    const cwd = tempDir();
    writeFileSync(path.join(cwd, 'tenantctl.config.yaml'), 'healthDeadlineSeconds: 30\nports:\n  app: { from: 4000, to: 4100 }\n');
    const { config, errors } = loadConfig({ cwd, env: { TENANTCTL_HEALTH_DEADLINE: '45', TENANTCTL_REDIS_PORTS: '7000-7010' } });
    expect(errors).toEqual([]);
    expect(config?.healthDeadlineSeconds).toBe(45);
    expect(config?.ports.app).toEqual({ from: 4000, to: 4100 });
    expect(config?.ports.redis).toEqual({ from: 7000, to: 7010 });
    expect(config?.ports.db.from).toBe(5434);
  });

  it('reports every problem as path: message, naming the variable that caused it', () => {
    const cwd = tempDir();
    writeFileSync(path.join(cwd, 'tenantctl.config.yaml'), 'bindAddress: nowhere\nimages: { app: "" }\ncolour: blue\n');
    const { config, errors } = loadConfig({ cwd, env: { TENANTCTL_APP_PORTS: '9000-8000', TENANTCTL_HEALTH_DEADLINE: 'soon' } });
    expect(config).toBeUndefined();
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^bindAddress: /),
        expect.stringMatching(/^images\.app: /),
        expect.stringMatching(/^\(root\): .*colour/),
        expect.stringMatching(/^ports\.app \(TENANTCTL_APP_PORTS\): from must not be greater than to/),
        expect.stringMatching(/^healthDeadlineSeconds \(TENANTCTL_HEALTH_DEADLINE\): /),
      ]),
    );
    expect(errors).toHaveLength(5);
  });

  it('refuses a subnet pool no network can have, instead of failing later', () => {
    const cwd = tempDir();
    for (const [pool, prefix, message] of [
      ['10.300.0.0/16', '28', /^subnets\.pool \(TENANTCTL_SUBNET_POOL\): has an address part above 255/],
      ['10.0.0.0/4', '28', /^subnets\.pool \(TENANTCTL_SUBNET_POOL\): must have a prefix from \/8 to \/30/],
      ['10.123.0.0/24', '20', /^subnets\.prefixLength \(TENANTCTL_SUBNET_PREFIX\): prefixLength must not be shorter/],
    ] as const) {
      const { config, errors } = loadConfig({ cwd, env: { TENANTCTL_SUBNET_POOL: pool, TENANTCTL_SUBNET_PREFIX: prefix } });
      expect(config).toBeUndefined();
      expect(errors).toEqual([expect.stringMatching(message)]);
    }
  });

  it('reports YAML syntax errors and a missing explicit file', () => {
    const cwd = tempDir();
    writeFileSync(path.join(cwd, 'bad.yaml'), 'ports: [unclosed\n');
    const bad = loadConfig({ cwd, env: {}, file: 'bad.yaml' });
    expect(bad.errors[0]).toMatch(/bad\.yaml: /);
    const missing = loadConfig({ cwd, env: { TENANTCTL_CONFIG: 'nope.yaml' } });
    expect(missing.errors).toEqual([`${path.join(cwd, 'nope.yaml')}: file not found`]);
  });
});

describe('state dir', () => {
  it('defaults to one per user, not per working directory', () => {
    const { config } = loadConfig({ cwd: tempDir(), env: { XDG_STATE_HOME: '/var/state' } });
    expect(config?.stateDir).toBe('/var/state/tenantctl');
    const fromEnv = loadConfig({ cwd: '/srv', env: { TENANTCTL_STATE_DIR: 'here' } });
    expect(fromEnv.config?.stateDir).toBe('/srv/here');
  });
});
