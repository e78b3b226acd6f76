import { describe, expect, it } from 'vitest';
import { chownSync, lstatSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { archiveOwnerMoveScript } from '../../src/backups/piece-files.js';
import { ownStagedScript } from '../../src/pitr/volume-steps.js';
import { reownScript } from '../../src/upgrades/service-users.js';
import { tempDir } from './temp-dirs.js';

// Owners after a service's uid moved (README, "Service users"): a backup from before holds the old
// uid's files, and a restore stages them into a volume the new uid owns. Run as the helpers run them
// (sh, in the volume's root, as root: chown to another uid needs root, so these run only as root).

const owner = (p: string) => { const s = lstatSync(p); return `${s.uid}:${s.gid}`; };
const sh = (cwd: string, script: string, env: Record<string, string> = {}, args: string[] = []) =>
  execFileSync('sh', ['-c', `set -eu\n${script}`, 'sh', ...args], { cwd, env: { ...process.env, ...env }, encoding: 'utf8' });

describe.runIf(process.getuid?.() === 0)('owners of what a restore stages, and of an upgrade\'s re-own', () => {
  it('a volume archive: the files of its root\'s old owner take the volume root\'s owner; root\'s and others\' keep theirs', () => {
    const src = tempDir('tct-archive-src-');
    writeFileSync(path.join(src, 'data'), 'x');
    writeFileSync(path.join(src, 'roots'), 'x');
    mkdirSync(path.join(src, 'sub'));
    writeFileSync(path.join(src, 'sub', 'mixed'), 'x');
    for (const f of ['.', 'data', 'sub']) chownSync(path.join(src, f), 101, 103);
    chownSync(path.join(src, 'roots'), 0, 0);
    chownSync(path.join(src, 'sub', 'mixed'), 101, 0);
    const volume = tempDir('tct-archive-volume-');
    chownSync(volume, 70002, 70002);
    const incoming = '.tenantctl-restore-x-incoming';
    mkdirSync(path.join(volume, incoming));
    execFileSync('sh', ['-c', `tar --numeric-owner -C "$1" -cf - . | tar --numeric-owner -C "$2" -xpf -`, 'sh', src, path.join(volume, incoming)]);
    expect(owner(path.join(volume, incoming))).toBe('101:103');
    sh(volume, archiveOwnerMoveScript, { INCOMING: incoming });
    expect([owner(path.join(volume, incoming)), owner(path.join(volume, incoming, 'data')), owner(path.join(volume, incoming, 'sub')), owner(path.join(volume, incoming, 'sub', 'mixed')), owner(path.join(volume, incoming, 'roots'))])
      .toEqual(['70002:70002', '70002:70002', '70002:70002', '70002:0', '0:0']);
  });

  it('a staged data directory and its WAL: every file takes the data volume root\'s owner', () => {
    const volume = tempDir('tct-staged-');
    chownSync(volume, 70001, 70001);
    for (const dir of ['.tenantctl-pitr-a-data/base', '.tenantctl-pitr-a-wal']) mkdirSync(path.join(volume, dir), { recursive: true });
    writeFileSync(path.join(volume, '.tenantctl-pitr-a-data', 'base', 'f'), 'x');
    writeFileSync(path.join(volume, '.tenantctl-pitr-a-wal', '000000010000000000000001'), 'x');
    execFileSync('chown', ['-R', '101:103', path.join(volume, '.tenantctl-pitr-a-data'), path.join(volume, '.tenantctl-pitr-a-wal')]);
    sh(volume, ownStagedScript, { STAGED: '.tenantctl-pitr-a-data', WAL: '.tenantctl-pitr-a-wal' });
    for (const f of ['.tenantctl-pitr-a-data', '.tenantctl-pitr-a-data/base/f', '.tenantctl-pitr-a-wal/000000010000000000000001']) expect(owner(path.join(volume, f)), f).toBe('70001:70001');
  });

  it('the upgrade\'s helper: only the old numbers\' files move, links themselves and not their targets, and again changes nothing', () => {
    const volume = tempDir('tct-reown-');
    const outside = tempDir('tct-reown-outside-');
    writeFileSync(path.join(outside, 'target'), 'x');
    chownSync(path.join(outside, 'target'), 101, 103);
    writeFileSync(path.join(volume, 'a'), 'x');
    writeFileSync(path.join(volume, 'b'), 'x');
    execFileSync('ln', ['-s', path.join(outside, 'target'), path.join(volume, 'link')]);
    chownSync(volume, 101, 103);
    chownSync(path.join(volume, 'a'), 101, 0);
    chownSync(path.join(volume, 'b'), 0, 103);
    execFileSync('chown', ['-h', '101:103', path.join(volume, 'link')]);
    // The helper mounts the volume at /v; here the script's `cd /v` is the test's folder.
    const script = reownScript.replace('cd /v', `cd "${volume}"`);
    const moves = ['u', '101', '70001', 'g', '103', '70001'];
    sh(volume, script, {}, moves);
    expect([owner(volume), owner(path.join(volume, 'a')), owner(path.join(volume, 'b')), owner(path.join(volume, 'link')), owner(path.join(outside, 'target'))])
      .toEqual(['70001:70001', '70001:0', '0:70001', '70001:70001', '101:103']);
    sh(volume, script, {}, moves);
    expect(owner(path.join(volume, 'a'))).toBe('70001:0');
    // Back: exactly as it was.
    sh(volume, script, {}, ['u', '70001', '101', 'g', '70001', '103']);
    expect([owner(volume), owner(path.join(volume, 'a')), owner(path.join(volume, 'b')), owner(path.join(volume, 'link'))]).toEqual(['101:103', '101:0', '0:103', '101:103']);
  });
});
