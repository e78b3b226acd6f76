import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DockerHost } from '../../src/engine/docker-host.js';
import { tmpfsAt, tmpfsOverImageVolumes } from '../../src/engine/docker.js';
import { anonymousVolumesOf } from '../../src/stack/anonymous-volumes.js';

const hex = (c: string) => c.repeat(64);
const ok = (stdout: string) => ({ exitCode: 0, stdout, stderrTail: '', timedOut: false, cancelled: false });

describe('tmpfsOverImageVolumes', () => {
  const host = { docker: async () => '{"/data":{},"/var/lib/postgresql/data/":{},"/cache":{}}\n' } as unknown as DockerHost;

  it('covers every VOLUME of the image', async () => {
    expect(await tmpfsOverImageVolumes(host, 'img')).toEqual(['--mount', 'type=tmpfs,dst=/data', '--mount', 'type=tmpfs,dst=/var/lib/postgresql/data/', '--mount', 'type=tmpfs,dst=/cache']);
  });

  it('skips the paths the helper mounts itself (a second mount there is refused), trailing slashes aside', async () => {
    expect(await tmpfsOverImageVolumes(host, 'img', undefined, ['/data/', '/var/lib/postgresql/data', '/v'])).toEqual(['--mount', 'type=tmpfs,dst=/cache']);
  });

  it('treats //data and /data/. as the /data the helper mounts', async () => {
    expect(await tmpfsOverImageVolumes(host, 'img', undefined, ['//data', '/var/lib/postgresql/data/.', '/cache/'])).toEqual([]);
  });

  // --mount is comma-separated key=value and a later key wins: "/x,type=bind,source=/etc" would bind the host's /etc.
  it.each(['/x,type=bind,source=/etc', '/x"y', 'relative', '/x=y', '/x\ny'])('refuses an image declaring VOLUME %j (exit 2), mounting nothing', async (odd) => {
    const hostile = { docker: async () => `${JSON.stringify({ '/data': {}, [odd]: {} })}\n` } as unknown as DockerHost;
    await expect(tmpfsOverImageVolumes(hostile, 'img')).rejects.toMatchObject({ kind: 'usage', message: expect.stringMatching(/plain absolute path/) });
  });

  // The tenant's or template's own paths reach the same option: a data directory PostgreSQL reports, a piece's mount.
  it('tmpfsAt mounts a plain absolute path and refuses any other (exit 2)', () => {
    expect(tmpfsAt('/var/lib/postgresql/data', 'the data directory')).toEqual(['--mount', 'type=tmpfs,dst=/var/lib/postgresql/data']);
    for (const odd of ['/d,type=bind,source=/', 'data', '/d"x']) expect(() => tmpfsAt(odd, 'the data directory')).toThrow(expect.objectContaining({ kind: 'usage' }));
  });

  it('is nothing for an image without VOLUMEs', async () => {
    const none = { docker: async () => 'null\n' } as unknown as DockerHost;
    expect(await tmpfsOverImageVolumes(none, 'img')).toEqual([]);
  });
});

describe('anonymousVolumesOf', () => {
  // Container c1 mounts a named compose volume, an anonymous one and an external one with a hex
  // name; c2 an anonymous one a newer Docker labels as such, and one a user labelled.
  const mounts = [
    JSON.stringify([{ Type: 'volume', Name: 'p_db-data' }, { Type: 'volume', Name: hex('a') }, { Type: 'bind', Name: '' }, { Type: 'volume', Name: hex('e') }]),
    JSON.stringify([{ Type: 'volume', Name: hex('b') }, { Type: 'volume', Name: hex('c') }, { Type: 'tmpfs' }]),
  ].join('\n');
  const labels: Record<string, string> = { [hex('a')]: 'null', [hex('b')]: '{"com.docker.volume.anonymous":""}', [hex('c')]: '{"owner":"someone"}', [hex('e')]: 'null' };
  const asked: string[][] = [];
  const host = {
    run: async (argv: string[]) => {
      asked.push(argv);
      if (argv[1] === 'container') return ok(mounts);
      return ok(argv.slice(5).map((n) => `${n} ${labels[n]}`).join('\n'));
    },
  } as unknown as DockerHost;

  it('takes the hex-named, unlabelled volumes the containers mount, never an external one the file names', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tct-anon-'));
    const file = path.join(dir, 'docker-compose.yml');
    writeFileSync(file, `services: {}\nvolumes:\n  theirs:\n    external: true\n    name: ${hex('e')}\n  db-data: {}\n`);
    expect(await anonymousVolumesOf(host, ['c1', 'c2'], file)).toEqual([hex('a'), hex('b')]);
    expect(asked.at(-1)).not.toContain(hex('e'));
  });

  // A volume made by `docker volume create` without a name looks anonymous: only the file can say it is the operator's.
  it('takes nothing without a readable compose file', async () => {
    expect(await anonymousVolumesOf(host, ['c1', 'c2'], '')).toEqual([]);
    expect(await anonymousVolumesOf(host, ['c1', 'c2'], path.join(os.tmpdir(), 'tct-anon-no-such', 'docker-compose.yml'))).toEqual([]);
  });

  it('asks nothing without containers', async () => {
    asked.length = 0;
    expect(await anonymousVolumesOf(host, [], '')).toEqual([]);
    expect(asked).toEqual([]);
  });
});
