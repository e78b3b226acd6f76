// One answer to "is this a bind mount of the operator's files?" (src/templates/compose-tree.ts), shared
// by the remote-engine file, the swarm stack and the directories the stack turns into configs: a
// long-syntax bind whose source has no ./ (source: initdb) was a bind for the first two and not for
// the third, so the stack was refused for a directory that was there.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { labelsOf, relativeBind, relativeBindsOf } from '../../src/templates/compose-tree.js';
import { remoteCompose } from '../../src/stack/remote-compose.js';
import { swarmRender } from '../../src/swarm/swarm-render.js';
import { boundDirectories } from '../../src/swarm/swarm-stack.js';

describe('relativeBind', () => {
  it.each([
    ['short syntax with ./', './initdb:/docker-entrypoint-initdb.d:ro', { source: './initdb', target: '/docker-entrypoint-initdb.d' }],
    ['short syntax with ../', '../shared:/shared', { source: '../shared', target: '/shared' }],
    ['short syntax, the compose folder itself', '.:/srv', { source: '.', target: '/srv' }],
    ['long syntax with ./', { type: 'bind', source: './initdb', target: '/init' }, { source: './initdb', target: '/init' }],
    ['long syntax without ./', { type: 'bind', source: 'initdb', target: '/init' }, { source: 'initdb', target: '/init' }],
  ])('%s is a relative bind', (_, mount, expected) => {
    expect(relativeBind(mount)).toEqual(expected);
  });

  it.each([
    ['a named volume (short syntax)', 'db-data:/var/lib/postgresql/data'],
    ['a name without ./ (short syntax: a named volume)', 'initdb:/init'],
    ['a named volume (long syntax)', { type: 'volume', source: 'db-data', target: '/data' }],
    ['an absolute bind (short syntax: the target host\'s own path)', '/etc/localtime:/etc/localtime:ro'],
    ['an absolute bind (long syntax)', { type: 'bind', source: '/etc/localtime', target: '/etc/localtime' }],
    ['a tmpfs', { type: 'tmpfs', target: '/run' }],
    ['an anonymous volume', '/data'],
  ])('%s is not', (_, mount) => {
    expect(relativeBind(mount)).toBeUndefined();
  });
});

const compose = `
services:
  db:
    image: tenantctl/postgres:15
    volumes:
      - db-data:/var/lib/postgresql/data
      - type: bind
        source: initdb
        target: /docker-entrypoint-initdb.d
        read_only: true
  app:
    image: tenantctl/app:latest
    volumes: ['./static:/srv/static:ro']
networks:
  tenant:
    labels: { tenantctl.managed: "true", tenantctl.tenant: acme }
volumes:
  db-data: {}
`;

describe('the three users agree on a long-syntax bind without ./', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tct-compose-tree-'));
  mkdirSync(path.join(dir, 'initdb'));
  writeFileSync(path.join(dir, 'initdb', '01-role.sh'), '#!/bin/sh\n');
  mkdirSync(path.join(dir, 'static'));
  writeFileSync(path.join(dir, 'static', 'index.html'), '<p>hi</p>');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('relativeBindsOf lists both, per service, as written', () => {
    expect(relativeBindsOf(parse(compose))).toEqual([
      { service: 'db', source: 'initdb', target: '/docker-entrypoint-initdb.d' },
      { service: 'app', source: './static', target: '/srv/static' },
    ]);
  });

  it('the stack gets swarm configs for it (boundDirectories reads it) and the remote file ships it', async () => {
    const directories = await boundDirectories(compose, dir);
    expect(directories).toEqual({ initdb: ['01-role.sh'], './static': ['index.html'] });
    const stack = parse(swarmRender({ rendered: compose, directories, node: 'n1' }).text);
    expect(stack.services.db.configs).toEqual([{ source: 'initdb-01-role-sh', target: '/docker-entrypoint-initdb.d/01-role.sh', mode: 0o555 }]);
    expect(stack.configs['initdb-01-role-sh'].file).toBe('initdb/01-role.sh');
    const remote = remoteCompose(compose, dir);
    expect(remote.volumes.map((v) => v.key).sort()).toEqual(['tenantctl-files-initdb', 'tenantctl-files-static']);
  });
});

describe('labelsOf', () => {
  it('takes the labels of the file\'s first labelled volume or network', () => {
    expect(labelsOf(parse(compose))).toEqual({ 'tenantctl.managed': 'true', 'tenantctl.tenant': 'acme' });
    expect(labelsOf({ services: {} })).toBeUndefined();
  });
});
