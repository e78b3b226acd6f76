import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { localEngineSocket } from '../../src/cli/engine-socket.js';
import { filtersQuery } from '../../src/engine/engine-api.js';
import { tempDir } from './temp-dirs.js';

describe('which engine quick questions may ask over the socket', () => {
  const configDir = (currentContext?: string) => {
    const dir = tempDir('tct-docker-config-');
    if (currentContext !== undefined) writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ currentContext }));
    return dir;
  };

  it('is the default socket when the CLI would use the local engine too', () => {
    expect(localEngineSocket({ DOCKER_CONFIG: configDir() })).toBe('/var/run/docker.sock');
    expect(localEngineSocket({ DOCKER_CONFIG: configDir('default'), DOCKER_CONTEXT: 'default' })).toBe('/var/run/docker.sock');
  });

  it('is none when DOCKER_HOST or a docker context points elsewhere: compose would ask another engine', () => {
    expect(localEngineSocket({ DOCKER_HOST: 'tcp://10.0.0.2:2375', DOCKER_CONFIG: configDir() })).toBeUndefined();
    expect(localEngineSocket({ DOCKER_CONTEXT: 'remote', DOCKER_CONFIG: configDir() })).toBeUndefined();
    expect(localEngineSocket({ DOCKER_CONFIG: configDir('remote') })).toBeUndefined();
  });
});

describe('engine API filters', () => {
  it('are one URL-encoded JSON object', () => {
    expect(decodeURIComponent(filtersQuery({ label: ['com.docker.compose.project=a b'] }).slice('filters='.length))).toBe('{"label":["com.docker.compose.project=a b"]}');
  });
});
