import { describe, expect, it } from 'vitest';
import { scrubbedEnvironment } from '../../src/common/child-env.js';

describe('the environment children get', () => {
  it('keeps what docker, compose and ssh need and nothing of tenantctl or the rest of the shell', () => {
    const env = scrubbedEnvironment({
      PATH: '/usr/bin', HOME: '/root', LANG: 'C.UTF-8', LC_ALL: 'C', TZ: 'UTC', TERM: 'xterm',
      DOCKER_HOST: 'ssh://a', DOCKER_CONTEXT: 'c', DOCKER_CONFIG: '/d', DOCKER_CERT_PATH: '/e', DOCKER_TLS_VERIFY: '1', SSH_AUTH_SOCK: '/s',
      TENANTCTL_MASTER_KEY: 'k'.repeat(64), TENANTCTL_ACTOR: 'me', COMPOSE_PROJECT_NAME: 'x', AWS_SECRET_ACCESS_KEY: 'y', DATABASE_URL: 'z', UNSET: undefined,
    });
    expect(Object.keys(env).sort()).toEqual(['DOCKER_CERT_PATH', 'DOCKER_CONFIG', 'DOCKER_CONTEXT', 'DOCKER_HOST', 'DOCKER_TLS_VERIFY', 'HOME', 'LANG', 'LC_ALL', 'PATH', 'SSH_AUTH_SOCK', 'TERM', 'TZ']);
  });
});
