import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { physicalStartScript } from '../../src/pitr/restore-to-time.js';
import { tempDir } from './temp-dirs.js';

// The script a physical restore runs over its staged cluster (in the data volume's root, as the
// restore's helper container runs it): tenantctl's own folders that pg_basebackup copied out of
// PGDATA are dropped (the swap would meet the live ones), and another major version is exit 5.

const staged = '.tenantctl-pitr-abcd-data';
const wal = '.tenantctl-pitr-abcd-wal';

function volume(stagedMajor: string): string {
  const root = tempDir('tct-physical-stage-');
  writeFileSync(path.join(root, 'PG_VERSION'), '16\n');
  mkdirSync(path.join(root, staged, '.tenantctl-pitr-old1-replaced', 'base'), { recursive: true });
  mkdirSync(path.join(root, staged, '.tenantctl-pitr-old1-restored'), { recursive: true });
  mkdirSync(path.join(root, staged, 'base'), { recursive: true });
  writeFileSync(path.join(root, staged, 'PG_VERSION'), `${stagedMajor}\n`);
  writeFileSync(path.join(root, staged, 'backup_label'), 'START WAL LOCATION: 0/2000028\n');
  writeFileSync(path.join(root, staged, 'postmaster.pid'), '1\n');
  mkdirSync(path.join(root, wal));
  return root;
}

const run = (root: string) => spawnSync('sh', ['-c', `set -eu\n${physicalStartScript}`], { cwd: root, env: { ...process.env, STAGED: staged, WAL: wal }, encoding: 'utf8' });

describe('the staged physical backup', () => {
  it('drops the .tenantctl-* folders pg_basebackup copied, keeps the cluster', () => {
    const root = volume('16');
    const r = run(root);
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(path.join(root, staged, '.tenantctl-pitr-old1-replaced'))).toBe(false);
    expect(existsSync(path.join(root, staged, '.tenantctl-pitr-old1-restored'))).toBe(false);
    expect(existsSync(path.join(root, staged, 'postmaster.pid'))).toBe(false);
    expect(existsSync(path.join(root, staged, 'base'))).toBe(true);
    expect(existsSync(path.join(root, staged, 'backup_label'))).toBe(true);
  });

  it('exits 5 (a conflict) for a cluster of another major version, leaving the stage as it was', () => {
    const root = volume('15');
    const r = run(root);
    expect(r.status).toBe(5);
    expect(r.stderr).toMatch(/PostgreSQL 15 cluster and the tenant runs PostgreSQL 16/);
    expect(existsSync(path.join(root, staged, '.tenantctl-pitr-old1-replaced'))).toBe(true);
  });
});
