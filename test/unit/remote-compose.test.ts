// What a rendered compose file becomes on a remote engine (src/stack/remote-compose.ts), and the
// tar archive its files travel in (src/engine/tar.ts).
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { remoteCompose, RemoteComposeError } from '../../src/stack/remote-compose.js';
import { tarArchive } from '../../src/engine/tar.js';
import { renderSshConfig } from '../../src/engine/ssh-multiplex.js';
import { DockerHost, parseDockerEndpoint } from '../../src/engine/docker-host.js';

const base = `
services:
  db:
    image: tenantctl/postgres:15
    secrets: [DB_PASSWORD, APP_DB_PASSWORD]
    volumes:
      - db-data:/var/lib/postgresql/data
      - ./initdb:/docker-entrypoint-initdb.d:ro
      - /etc/localtime:/etc/localtime:ro
  app:
    image: tenantctl/app:latest
    secrets:
      - APP_DB_PASSWORD
      - source: JWT_SECRET
        target: JWT
networks:
  tenant:
    labels: { tenantctl.managed: "true", tenantctl.tenant: acme }
volumes:
  db-data:
    labels: { tenantctl.managed: "true", tenantctl.tenant: acme }
secrets:
  DB_PASSWORD: { file: ./secrets/DB_PASSWORD }
  APP_DB_PASSWORD: { file: ./secrets/APP_DB_PASSWORD }
  JWT_SECRET: { file: ./secrets/JWT_SECRET }
`;

describe('remoteCompose', () => {
  const result = remoteCompose(base, '/srv/customers/acme');
  const tree = parse(result.text);

  it('gives each service its own secrets in a read-only volume at /run/secrets, and drops compose secrets', () => {
    expect(tree.secrets).toBeUndefined();
    expect(tree.services.db.secrets).toBeUndefined();
    expect(tree.services.db.volumes).toContain('tenantctl-secrets-db:/run/secrets:ro');
    expect(tree.services.app.volumes).toEqual(['tenantctl-secrets-app:/run/secrets:ro']);
    const app = result.volumes.find((v) => v.key === 'tenantctl-secrets-app')!;
    expect(app.entries).toEqual([
      { source: '/srv/customers/acme/secrets/APP_DB_PASSWORD', target: 'APP_DB_PASSWORD', kind: 'file', mode: 0o400 },
      { source: '/srv/customers/acme/secrets/JWT_SECRET', target: 'JWT', kind: 'file', mode: 0o400 },
    ]);
  });

  it('turns relative bind mounts into shipped volumes and leaves the target host\'s own paths alone', () => {
    expect(tree.services.db.volumes).toEqual([
      'db-data:/var/lib/postgresql/data',
      'tenantctl-files-initdb:/docker-entrypoint-initdb.d:ro',
      '/etc/localtime:/etc/localtime:ro',
      'tenantctl-secrets-db:/run/secrets:ro',
    ]);
    expect(result.volumes.find((v) => v.key === 'tenantctl-files-initdb')!.entries).toEqual([{ source: '/srv/customers/acme/initdb', target: '.', kind: 'dir' }]);
  });

  it('declares the shipped volumes with the stack\'s labels, and picks a stack image for the copy', () => {
    expect(Object.keys(tree.volumes).sort()).toEqual(['db-data', 'tenantctl-files-initdb', 'tenantctl-secrets-app', 'tenantctl-secrets-db']);
    expect(tree.volumes['tenantctl-secrets-db'].labels).toEqual({ 'tenantctl.managed': 'true', 'tenantctl.tenant': 'acme' });
    expect(result.helperImage).toBe('tenantctl/postgres:15');
  });

  it('refuses what cannot be shipped, saying why', () => {
    expect(() => remoteCompose(base.replace('JWT_SECRET: { file: ./secrets/JWT_SECRET }', 'JWT_SECRET: { external: true }'), '/x')).toThrow(/secret JWT_SECRET is not a file secret/);
    expect(() => remoteCompose(base.replace('target: JWT', 'target: /etc/jwt'), '/x')).toThrow(RemoteComposeError);
  });

  it('leaves a file with nothing local as it was (apart from formatting)', () => {
    const plain = 'services:\n  web:\n    image: nginx\n    volumes: ["data:/d", "/var/log:/l"]\nvolumes:\n  data: {}\n';
    const out = remoteCompose(plain, '/x');
    expect(out.volumes).toEqual([]);
    expect(parse(out.text)).toEqual(parse(plain));
  });
});

describe('tarArchive', () => {
  it('is extracted by tar with names, modes and contents intact', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tenantctl-tar-'));
    try {
      const archive = tarArchive([
        { name: 'secrets/', mode: 0o700 },
        { name: 'secrets/DB_PASSWORD', mode: 0o400, content: Buffer.from('s3cr3t\n') },
        { name: 'initdb/', mode: 0o755 },
        { name: 'initdb/01.sh', mode: 0o755, content: Buffer.alloc(1500, 'x') },
        { name: 'empty', mode: 0o644 },
      ]);
      expect(archive.length % 512).toBe(0);
      writeFileSync(path.join(dir, 'a.tar'), archive);
      await execa('tar', ['-x', '-f', 'a.tar'], { cwd: dir });
      expect(readFileSync(path.join(dir, 'secrets/DB_PASSWORD'), 'utf8')).toBe('s3cr3t\n');
      expect(statSync(path.join(dir, 'secrets/DB_PASSWORD')).mode & 0o777).toBe(0o400);
      expect(statSync(path.join(dir, 'secrets')).mode & 0o777).toBe(0o700);
      expect(readFileSync(path.join(dir, 'initdb/01.sh')).length).toBe(1500);
      expect(statSync(path.join(dir, 'empty')).size).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('renderSshConfig', () => {
  it('includes the operator\'s files first (their values win), then one multiplexed connection per host', () => {
    const text = renderSshConfig({ include: '/etc/tenantctl/ssh_config', controlDir: '/state/ssh/42' });
    const lines = text.split('\n');
    expect(lines.indexOf('Include /etc/tenantctl/ssh_config')).toBeLessThan(lines.indexOf('Host *'));
    expect(lines.indexOf('Include ~/.ssh/config')).toBeLessThan(lines.indexOf('Host *'));
    expect(text).toContain('  ControlMaster auto\n  ControlPath /state/ssh/42/cm-%C\n');
  });
});

describe('DockerHost for remote engines', () => {
  const tcp = new DockerHost('m', parseDockerEndpoint('tcp://10.0.0.1:2376'), { tlsCertPath: '/certs' });
  const ssh = new DockerHost('m', parseDockerEndpoint('ssh://ops@10.0.0.1:2222'), { ssh: { stateDir: '/nonexistent-state' }, searchPath: '/usr/bin' });

  it('publishes a remote engine\'s front-door port on its publish address, else the engine URL\'s IP, never silently on 0.0.0.0', () => {
    expect(tcp.publishAddress('127.0.0.1')).toBe('10.0.0.1');
    expect(tcp.publishAddress('0.0.0.0')).toBe('10.0.0.1');
    expect(ssh.publishAddress('127.0.0.1')).toBe('10.0.0.1');
    expect(new DockerHost('l', { kind: 'local' }).publishAddress('127.0.0.1')).toBe('127.0.0.1');
    // Reached by name: refused (exit 2) unless the operator says where, 0.0.0.0 included.
    const named = new DockerHost('n', parseDockerEndpoint('ssh://ops@web4.example.net'), { ssh: { stateDir: '/nonexistent-state' } });
    expect(() => named.publishAddress('127.0.0.1')).toThrow(expect.objectContaining({ kind: 'usage', message: expect.stringMatching(/--publish-address/) }));
    const chosen = new DockerHost('n', parseDockerEndpoint('ssh://ops@web4.example.net'), { ssh: { stateDir: '/nonexistent-state' }, publishAddress: '10.0.0.14' });
    expect(chosen.publishAddress('127.0.0.1')).toBe('10.0.0.14');
    // The front door dials the publish address; with "every interface" it dials the engine's address.
    expect(chosen.probeAddress('127.0.0.1')).toBe('10.0.0.14');
    const everywhere = new DockerHost('t', parseDockerEndpoint('tcp://10.0.0.5:2376'), { publishAddress: '0.0.0.0' });
    expect(everywhere.publishAddress('127.0.0.1')).toBe('0.0.0.0');
    expect(everywhere.probeAddress('127.0.0.1')).toBe('10.0.0.5');
    // A swarm node publishes at its own address, not the manager's publish address.
    const swarm = new DockerHost('s', parseDockerEndpoint('tcp://10.0.0.5:2376'), { kind: 'swarm', publishAddress: '10.0.0.5' });
    expect(swarm.sibling('n2', '10.0.0.6').probeAddress('127.0.0.1')).toBe('10.0.0.6');
  });

  it('keeps ports private (only the front door\'s published) on remote engines and swarm nodes, not on a local compose engine', () => {
    expect(tcp.keepsPortsPrivate).toBe(true);
    expect(ssh.keepsPortsPrivate).toBe(true);
    expect(new DockerHost('l', { kind: 'local' }).keepsPortsPrivate).toBe(false);
    const localSwarm = new DockerHost('s', { kind: 'local' }, { kind: 'swarm' });
    expect(localSwarm.keepsPortsPrivate).toBe(true);
    // The manager's own node, reached as a plain engine, is still a swarm node.
    expect(localSwarm.sibling('s', '10.0.0.9').keepsPortsPrivate).toBe(true);
  });

  it('reaches a swarm node like the manager: same scheme, user, port and TLS; one instance per node', () => {
    const node = tcp.sibling('n2', '10.0.0.2');
    expect(node.endpoint).toEqual({ kind: 'tcp', url: 'tcp://10.0.0.2:2376', address: '10.0.0.2' });
    expect(node.env).toMatchObject({ DOCKER_HOST: 'tcp://10.0.0.2:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/certs' });
    expect(tcp.sibling('n2', '10.0.0.2')).toBe(node);
    expect(tcp.sibling('m', '10.0.0.1')).toBe(tcp);
    expect(ssh.sibling('n3', '10.0.0.3').endpoint).toEqual({ kind: 'ssh', url: 'ssh://ops@10.0.0.3:2222', address: '10.0.0.3' });
  });
});
