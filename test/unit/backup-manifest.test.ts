import { afterEach, describe, expect, it } from 'vitest';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { backupFormat, newBackupId, sha256Of, verifyBackup } from '../../src/backups/manifest.js';
import { parseKeep } from '../../src/backups/backup.js';
import { loadConfig } from '../../src/config/load.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A backup folder with a format-2 manifest (pieces by the template's names), or format 1 (crm's, before pieces). */
function backup(format: 1 | 2 = 2): { dir: string; manifestText: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'tenantctl-manifest-'));
  dirs.push(dir);
  const files: Record<string, string> = { 'db.dump': 'PGDMP' + 'x'.repeat(5000), 'redis.rdb': 'REDIS0010...', 'tenant.json': '{"record":{}}' };
  for (const [name, content] of Object.entries(files)) writeFileSync(path.join(dir, name), content);
  const common = {
    id: 'acme-20250131t090000z-3f9a', tenant: 'acme', createdAt: '2025-01-31T09:00:00.000Z', host: 'h',
    files: Object.fromEntries(Object.entries(files).map(([name, c]) => [name, { bytes: Buffer.byteLength(c), sha256: sha256Of(c) }])),
  };
  const manifest = format === 2
    ? {
      ...common, format: backupFormat, template: 'crm',
      pieces: {
        db: { kind: 'postgres', service: 'db', file: 'db.dump', image: 'p', imageId: 'sha256:1', version: '15' },
        redis: { kind: 'redis', service: 'redis', file: 'redis.rdb', image: 'r', imageId: 'sha256:2' },
      },
    }
    : { ...common, format: 'tenantctl-backup/1', postgres: { image: 'p', imageId: 'sha256:1', version: '15' }, redis: { image: 'r', imageId: 'sha256:2' } };
  const manifestText = JSON.stringify(manifest);
  writeFileSync(path.join(dir, 'manifest.json'), manifestText);
  return { dir, manifestText };
}

describe('backup manifest', () => {
  it('accepts an intact backup, also against the recorded manifest hash', async () => {
    const { dir, manifestText } = backup();
    expect((await verifyBackup(dir, sha256Of(manifestText))).tenant).toBe('acme');
  });

  it("reads a format-1 backup (crm's, before pieces) as crm's db and redis pieces", async () => {
    const { dir, manifestText } = backup(1);
    const manifest = await verifyBackup(dir, sha256Of(manifestText));
    expect(manifest.template).toBe('crm');
    expect(manifest.pieces).toMatchObject({ db: { kind: 'postgres', file: 'db.dump', version: '15' }, redis: { kind: 'redis', file: 'redis.rdb' } });
  });

  it('refuses a manifest without pieces, with a piece of an unknown kind, or with a piece whose file it does not list', async () => {
    const rewrite = (dir: string, change: (m: any) => void) => {
      const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
      change(manifest);
      writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
    };
    const a = backup();
    rewrite(a.dir, (m) => { m.pieces = {}; });
    await expect(verifyBackup(a.dir)).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/names no state pieces/) });
    const b = backup();
    rewrite(b.dir, (m) => { m.pieces.db.kind = 'mysql'; });
    await expect(verifyBackup(b.dir)).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/piece "db" is not a postgres, redis, sqlite or volume piece/) });
    const c = backup();
    rewrite(c.dir, (m) => { m.pieces.db.file = 'other.dump'; });
    await expect(verifyBackup(c.dir)).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/lists no other\.dump/) });
  });

  it('refuses a truncated file (exit 2), naming it', async () => {
    const { dir } = backup();
    truncateSync(path.join(dir, 'db.dump'), 100);
    await expect(verifyBackup(dir)).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/db\.dump is 100 bytes, the manifest says 5005/) });
  });

  it('refuses an altered file of the same size', async () => {
    const { dir } = backup();
    writeFileSync(path.join(dir, 'redis.rdb'), 'REDIS0010..!');
    await expect(verifyBackup(dir)).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/redis\.rdb does not match its SHA-256/) });
  });

  it('refuses a manifest that is not the recorded one, a truncated one, or a missing one', async () => {
    const a = backup();
    await expect(verifyBackup(a.dir, sha256Of('something else'))).rejects.toMatchObject({ exitCode: 2 });
    truncateSync(path.join(a.dir, 'manifest.json'), 20);
    await expect(verifyBackup(a.dir)).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/not valid JSON/) });
    rmSync(path.join(a.dir, 'manifest.json'));
    await expect(verifyBackup(a.dir)).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/cannot be read/) });
  });

  it('refuses a file the manifest lists outside the folder', async () => {
    const { dir } = backup();
    const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    manifest.files['../x'] = { bytes: 0, sha256: sha256Of('') };
    writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
    appendFileSync(path.join(dir, 'manifest.json'), '\n');
    await expect(verifyBackup(dir)).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/outside/) });
  });

  it('makes ids that sort by time and fit admin_backups', () => {
    const id = newBackupId('acme', new Date('2025-01-31T09:00:00.123Z'));
    expect(id).toMatch(/^acme-20250131t090000z-[0-9a-f]{4}$/);
    expect(id).toMatch(/^[a-z0-9][a-z0-9-]{0,80}$/);
  });

  it('parses --keep', () => {
    expect(parseKeep(undefined)).toBeUndefined();
    expect(parseKeep('3')).toBe(3);
    for (const bad of ['0', '-1', '1.5', 'x']) expect(() => parseKeep(bad)).toThrow(/--keep/);
  });
});

describe('backupsDir', () => {
  it('defaults to <stateDir>/backups, and TENANTCTL_BACKUPS_DIR overrides it (relative to cwd)', () => {
    const a = loadConfig({ cwd: '/work', env: { TENANTCTL_STATE_DIR: '/var/lib/t' } });
    expect(a.config?.backupsDir).toBe('/var/lib/t/backups');
    const b = loadConfig({ cwd: '/work', env: { TENANTCTL_STATE_DIR: '/var/lib/t', TENANTCTL_BACKUPS_DIR: 'bk' } });
    expect(b.config?.backupsDir).toBe('/work/bk');
  });
});
