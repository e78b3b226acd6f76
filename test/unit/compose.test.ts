import { describe, expect, it } from 'vitest';
import { composeArgv, downVerb, portsReportedTaken, projectName, subnetReportedTaken, upVerb } from '../../src/stack/compose-argv.js';
import { judgeService } from '../../src/stack/readiness.js';
import type { ContainerState } from '../../src/engine/docker.js';

const target = { project: 'tenant-acme', file: '/srv/customers/acme/docker-compose.yml', envFile: '/srv/customers/acme/.env' };

describe('compose argv', () => {
  it('puts -p, -f and --env-file before the verb, for both flavours', () => {
    expect(composeArgv('v2', target, upVerb())).toEqual([
      'docker', 'compose', '-p', 'tenant-acme', '-f', target.file, '--env-file', target.envFile, 'up', '-d', '--remove-orphans',
    ]);
    expect(composeArgv('v1', target, upVerb(['admin-db']))).toEqual([
      'docker-compose', '-p', 'tenant-acme', '-f', target.file, '--env-file', target.envFile, 'up', '-d', '--remove-orphans', 'admin-db',
    ]);
  });

  it('removes volumes on down only when asked', () => {
    expect(downVerb({ removeVolumes: true, timeoutSeconds: 10 })).toEqual(['down', '--remove-orphans', '--timeout', '10', '-v']);
    expect(downVerb({ removeVolumes: false, timeoutSeconds: 5 })).toEqual(['down', '--remove-orphans', '--timeout', '5']);
  });

  it('omits --env-file when there is none', () => {
    expect(composeArgv('v1', { project: 'p', file: 'f.yml' }, ['ps'])).toEqual(['docker-compose', '-p', 'p', '-f', 'f.yml', 'ps']);
  });

  it('builds project names compose accepts, and refuses others', () => {
    expect(projectName('tenant', 'acme-2')).toBe('tenant-acme-2');
    expect(() => projectName('Tenant', 'acme')).toThrow(/invalid compose project name/);
  });

  it('finds the ports Docker reports as taken, in v1 and v2 wording', () => {
    const v1 = 'ERROR: for app  Cannot start service app: driver failed programming external connectivity on endpoint x: Bind for 127.0.0.1:3001 failed: port is already allocated';
    const v2 = 'Error response from daemon: driver failed programming external connectivity on endpoint y: Error starting userland proxy: listen tcp4 127.0.0.1:5434: bind: address already in use';
    expect(portsReportedTaken(`${v1}\n${v2}`).sort()).toEqual([3001, 5434]);
    expect(portsReportedTaken('ERROR: manifest unknown')).toEqual([]);
  });

  it('recognises a subnet Docker refuses as overlapping', () => {
    expect(subnetReportedTaken('ERROR: Pool overlaps with other one on this address space')).toBe(true);
    expect(subnetReportedTaken('ERROR: port is already allocated')).toBe(false);
  });
});

const container = (over: Partial<ContainerState>): ContainerState => ({
  id: 'c1', name: 'tenant-acme_app_1', service: 'app', status: 'running', exitCode: 0, restartCount: 0, image: 'tenantctl/app:latest', imageId: 'sha256:1', ...over,
});

describe('judgeService', () => {
  const app = { name: 'app', hasHealthcheck: true };
  it('waits for a missing container, a starting health check and a restarting container', () => {
    expect(judgeService(app, [])).toEqual({ state: 'waiting', why: 'no container yet' });
    expect(judgeService(app, [container({ health: 'starting' })]).state).toBe('waiting');
    expect(judgeService(app, [container({ status: 'restarting' })]).state).toBe('waiting');
  });

  it('is ready when running and healthy, or just running without a health check', () => {
    expect(judgeService(app, [container({ health: 'healthy' })])).toEqual({ state: 'ready' });
    expect(judgeService({ name: 'app', hasHealthcheck: false }, [container({})])).toEqual({ state: 'ready' });
  });

  it('fails fast on an exited, unhealthy or crash-looping container, saying why', () => {
    expect(judgeService(app, [container({ status: 'exited', exitCode: 3 })])).toEqual({ state: 'failed', why: 'container tenant-acme_app_1 exited with code 3' });
    expect(judgeService(app, [container({ health: 'unhealthy', lastHealthOutput: 'ECONNREFUSED' })])).toEqual({ state: 'failed', why: 'unhealthy: ECONNREFUSED' });
    expect(judgeService(app, [container({ status: 'restarting', restartCount: 3 })]).state).toBe('failed');
  });
});
