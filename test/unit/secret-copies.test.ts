// Each non-root service's own copies of its secrets (src/templates/secret-copies.ts): the render,
// what tenantctl writes for it (secrets/env-file.ts), the remote engine's shipping, the swarm
// stack, and the validation warning for a service without a user.
import { execa } from 'execa';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { foldSecretCopies, numericUser, secretCopiesOf, secretReferenceName, withSecretCopies } from '../../src/templates/secret-copies.js';
import { swarmRender } from '../../src/swarm/swarm-render.js';
import { writeSecretFiles } from '../../src/secrets/env-file.js';
import { remoteCompose } from '../../src/stack/remote-compose.js';
import { tarArchive } from '../../src/engine/tar.js';
import { hardeningWarnings } from '../../src/templates/hardening.js';

const rendered = `
x-secrets: &app-secrets [APP_DB_PASSWORD, JWT_SECRET]
services:
  db:
    image: tenantctl/postgres:15
    user: "101:104"
    secrets: [DB_PASSWORD, APP_DB_PASSWORD]
  app:
    image: tenantctl/app:latest
    user: "10001:10001"
    secrets: *app-secrets
  worker:
    image: tenantctl/app:latest
    user: "10001:10001"
    secrets: *app-secrets
  legacy:
    image: operator/legacy:1
    user: postgres
    secrets: [DB_PASSWORD]
  rooted:
    image: operator/rooted:1
    user: "0:0"
    secrets: [DB_PASSWORD]
secrets:
  DB_PASSWORD: { file: ./secrets/DB_PASSWORD }
  APP_DB_PASSWORD: { file: ./secrets/APP_DB_PASSWORD }
  JWT_SECRET: { file: ./secrets/JWT_SECRET }
`;

describe('withSecretCopies', () => {
  const out = withSecretCopies(rendered);
  const tree = parse(out, { merge: true, maxAliasCount: -1 });

  it('points each numeric non-root user\'s secrets at its own copies, mounted where the originals were', () => {
    expect(tree.services.db.secrets).toEqual([
      { source: 'DB_PASSWORD.user-101-104', target: 'DB_PASSWORD' },
      { source: 'APP_DB_PASSWORD.user-101-104', target: 'APP_DB_PASSWORD' },
    ]);
    // app and worker shared one anchored list: each gets its own node, both the same copies.
    expect(tree.services.worker.secrets).toEqual(tree.services.app.secrets);
    expect(tree.services.app.secrets).toEqual([
      { source: 'APP_DB_PASSWORD.user-10001-10001', target: 'APP_DB_PASSWORD' },
      { source: 'JWT_SECRET.user-10001-10001', target: 'JWT_SECRET' },
    ]);
    expect(tree.secrets['APP_DB_PASSWORD.user-101-104']).toEqual({ file: './secrets/user-101-104/APP_DB_PASSWORD' });
    expect(tree.secrets['APP_DB_PASSWORD.user-10001-10001']).toEqual({ file: './secrets/user-10001-10001/APP_DB_PASSWORD' });
  });

  it('leaves a service with a user name or root on the operator\'s file (its entrypoint copies it as root)', () => {
    expect(tree.services.legacy.secrets).toEqual(['DB_PASSWORD']);
    expect(tree.services.rooted.secrets).toEqual(['DB_PASSWORD']);
    expect(tree.secrets.DB_PASSWORD).toEqual({ file: './secrets/DB_PASSWORD' });
  });

  it('is stable: a second pass changes nothing, and a file without non-root services comes back as it is', () => {
    expect(withSecretCopies(out)).toBe(out);
    const plain = 'services:\n  web:\n    image: nginx\n    secrets: [A]\nsecrets:\n  A: { file: ./secrets/A }\n';
    expect(withSecretCopies(plain)).toBe(plain);
  });

  it('lists what tenantctl must write, one file per user and secret', () => {
    expect(secretCopiesOf(out).map((c) => `${c.dir}/${c.name} ${c.uid}:${c.gid}`).sort()).toEqual([
      'user-10001-10001/APP_DB_PASSWORD 10001:10001',
      'user-10001-10001/JWT_SECRET 10001:10001',
      'user-101-104/APP_DB_PASSWORD 101:104',
      'user-101-104/DB_PASSWORD 101:104',
    ]);
    expect(secretCopiesOf(rendered)).toEqual([]);
  });

  it('names the secret a reference reads by where it mounts', () => {
    expect(secretReferenceName('JWT_SECRET')).toBe('JWT_SECRET');
    expect(secretReferenceName({ source: 'JWT_SECRET.user-1-1', target: 'JWT_SECRET' })).toBe('JWT_SECRET');
    expect(numericUser('101')).toEqual({ uid: 101, gid: 101 });
    expect(numericUser('0:5')).toBeUndefined();
    expect(numericUser('www-data')).toBeUndefined();
  });
});

describe('writeSecretFiles with copies', () => {
  // chown to another uid needs root: the suite runs as root (the e2e files check the containers' side).
  it.runIf(process.getuid?.() === 0)('writes each copy owned by its uid, mode 0400, in place on a rewrite, beside the operator\'s 0600 files', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tenantctl-copies-'));
    try {
      const copies = secretCopiesOf(withSecretCopies(rendered));
      const first = { DB_PASSWORD: 'a'.repeat(32), APP_DB_PASSWORD: 'b'.repeat(32), JWT_SECRET: 'c'.repeat(32) };
      await writeSecretFiles(dir, first, copies);
      const copy = path.join(dir, 'user-101-104', 'APP_DB_PASSWORD');
      const before = statSync(copy);
      expect([before.uid, before.gid, before.mode & 0o777]).toEqual([101, 104, 0o400]);
      expect(statSync(path.join(dir, 'user-101-104')).mode & 0o777).toBe(0o700);
      expect(statSync(path.join(dir, 'APP_DB_PASSWORD')).mode & 0o777).toBe(0o600);
      expect(readFileSync(path.join(dir, 'user-10001-10001', 'JWT_SECRET'), 'utf8')).toBe('c'.repeat(32));
      // A rotation writes only what changed: that secret's copies, in place (a running container's mount follows the inode).
      await writeSecretFiles(dir, { APP_DB_PASSWORD: 'd'.repeat(32) }, copies);
      const after = statSync(copy);
      expect(after.ino).toBe(before.ino);
      expect([after.uid, after.mode & 0o777]).toEqual([101, 0o400]);
      expect(readFileSync(copy, 'utf8')).toBe('d'.repeat(32));
      expect(readFileSync(path.join(dir, 'user-10001-10001', 'APP_DB_PASSWORD'), 'utf8')).toBe('d'.repeat(32));
      expect(readFileSync(path.join(dir, 'user-101-104', 'DB_PASSWORD'), 'utf8')).toBe('a'.repeat(32));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('pruning the copies no compose file mounts', () => {
  it.runIf(process.getuid?.() === 0)('removes a user folder no service runs as any more and a secret its service no longer reads; the operator\'s files and the used copies stay', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tenantctl-prune-'));
    try {
      const copies = secretCopiesOf(withSecretCopies(rendered));
      const secrets = { DB_PASSWORD: 'a'.repeat(32), APP_DB_PASSWORD: 'b'.repeat(32), JWT_SECRET: 'c'.repeat(32) };
      // Left by an older render: a uid the template no longer names, and a secret user-10001 stopped reading.
      mkdirSync(path.join(dir, 'user-999-999'), { recursive: true, mode: 0o700 });
      writeFileSync(path.join(dir, 'user-999-999', 'DB_PASSWORD'), 'x'.repeat(32), { mode: 0o400 });
      mkdirSync(path.join(dir, 'user-10001-10001'), { recursive: true, mode: 0o700 });
      writeFileSync(path.join(dir, 'user-10001-10001', 'DB_PASSWORD'), 'x'.repeat(32), { mode: 0o400 });
      mkdirSync(path.join(dir, 'not-a-copy'), { mode: 0o700 });
      // Without prune (an upgrade before it is proven: a rollback needs the old copies), nothing goes.
      await writeSecretFiles(dir, secrets, copies);
      expect(existsSync(path.join(dir, 'user-999-999', 'DB_PASSWORD'))).toBe(true);
      await writeSecretFiles(dir, secrets, copies, { prune: true });
      expect(readdirSync(dir).sort()).toEqual(['APP_DB_PASSWORD', 'DB_PASSWORD', 'JWT_SECRET', 'not-a-copy', 'user-10001-10001', 'user-101-104']);
      expect(readdirSync(path.join(dir, 'user-10001-10001')).sort()).toEqual(['APP_DB_PASSWORD', 'JWT_SECRET']);
      expect(readdirSync(path.join(dir, 'user-101-104')).sort()).toEqual(['APP_DB_PASSWORD', 'DB_PASSWORD']);
      // Nothing a copy holds is readable by anyone but its owner.
      for (const folder of ['user-10001-10001', 'user-101-104']) {
        expect(statSync(path.join(dir, folder)).mode & 0o077).toBe(0);
        for (const file of readdirSync(path.join(dir, folder))) expect(statSync(path.join(dir, folder, file)).mode & 0o377).toBe(0);
      }
      // A compose file with no copies (a template without users): every copy goes.
      await writeSecretFiles(dir, secrets, [], { prune: true });
      expect(readdirSync(dir).filter((name) => name.startsWith('user-'))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('on a remote engine and a swarm', () => {
  it('ships a non-root service\'s copies owned by its uid, in a volume it owns', () => {
    const remote = remoteCompose(withSecretCopies(rendered), '/srv/customers/acme');
    const db = remote.volumes.find((v) => v.key === 'tenantctl-secrets-db')!;
    expect(db.owner).toEqual({ uid: 101, gid: 104 });
    expect(db.entries).toEqual([
      { source: '/srv/customers/acme/secrets/user-101-104/DB_PASSWORD', target: 'DB_PASSWORD', kind: 'file', mode: 0o400 },
      { source: '/srv/customers/acme/secrets/user-101-104/APP_DB_PASSWORD', target: 'APP_DB_PASSWORD', kind: 'file', mode: 0o400 },
    ]);
    expect(remote.volumes.find((v) => v.key === 'tenantctl-secrets-legacy')!.owner).toBeUndefined();
  });

  it.runIf(process.getuid?.() === 0)('archives the owner, which tar keeps when it extracts as root', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tenantctl-tar-owner-'));
    try {
      writeFileSync(path.join(dir, 'a.tar'), tarArchive([
        { name: 's/', mode: 0o700, uid: 101, gid: 104 },
        { name: 's/DB_PASSWORD', mode: 0o400, uid: 101, gid: 104, content: Buffer.from('x') },
        { name: 'i/', mode: 0o755 },
      ]));
      await execa('tar', ['-x', '-f', 'a.tar'], { cwd: dir });
      const file = statSync(path.join(dir, 's/DB_PASSWORD'));
      expect([file.uid, file.gid, file.mode & 0o777]).toEqual([101, 104, 0o400]);
      expect(statSync(path.join(dir, 's')).uid).toBe(101);
      expect(statSync(path.join(dir, 'i')).uid).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a compose render with copies on a swarm', () => {
  it('folds the copies back into the declared secrets', () => {
    const tree = parse(withSecretCopies(rendered), { merge: true, maxAliasCount: -1 });
    foldSecretCopies(tree);
    expect(Object.keys(tree.secrets).sort()).toEqual(['APP_DB_PASSWORD', 'DB_PASSWORD', 'JWT_SECRET']);
    expect(tree.services.db.secrets).toEqual([{ source: 'DB_PASSWORD', target: 'DB_PASSWORD' }, { source: 'APP_DB_PASSWORD', target: 'APP_DB_PASSWORD' }]);
    const stack = parse(swarmRender({ rendered: withSecretCopies(rendered), directories: {}, node: 'n1' }).text);
    expect(stack.services.db.secrets).toEqual([
      { source: 'DB_PASSWORD', target: 'DB_PASSWORD', mode: 0o400 },
      { source: 'APP_DB_PASSWORD', target: 'APP_DB_PASSWORD', mode: 0o400 },
    ]);
    // On a swarm a service with secrets starts as root and drops (its tmpfs cannot be its uid's).
    expect(stack.services.db.user).toBeUndefined();
    expect(stack.services.db.cap_add).toEqual(['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETUID', 'SETGID']);
    expect(Object.keys(stack.secrets).sort()).toEqual(['APP_DB_PASSWORD', 'DB_PASSWORD', 'JWT_SECRET']);
  });
});

describe('hardening warnings', () => {
  const hardened = { cap_drop: ['ALL'], security_opt: ['no-new-privileges:true'], read_only: true, pids_limit: 64 };
  it('warns about a service without a numeric non-root user, and not about one with it', () => {
    const warnings = hardeningWarnings({ services: { a: { ...hardened, user: '10:10' }, b: { ...hardened }, c: { ...hardened, user: 'nginx' }, d: { ...hardened, user: '0' } } });
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toMatch(/^services\.b: not hardened: no user: "<uid>:<gid>" \(a non-root user from the start\)$/);
    expect(warnings[1]).toMatch(/^services\.c: .*it says "nginx"/);
    expect(warnings[2]).toMatch(/^services\.d: /);
  });
});
