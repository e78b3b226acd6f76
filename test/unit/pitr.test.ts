import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { archiveCommand, pitrService, withWalArchive } from '../../src/templates/wal-archive.js';
import { withSecretCopies } from '../../src/templates/secret-copies.js';
import { parseTargetTime } from '../../src/pitr/restore-to-time.js';
import { trustedBatch } from '../../src/pitr/ship.js';
import { decideInFlight, type InFlightBatch } from '../../src/pitr/ship-in-flight.js';
import { choosePitrRetention, snapshotsToForget } from '../../src/pitr/retention.js';
import { snapshotIdOf } from '../../src/pitr/base-backup.js';
import { TenantctlError } from '../../src/common/errors.js';
import { clearStageScript, dropScript, parseDfAvailable, pitrNames, stagingShortfall, putBackScript, recoverySettingsScript, swapScript, type VolumeWhere } from '../../src/pitr/volume-steps.js';

// Point-in-time recovery's pure parts: the compose file a PITR plan renders, the --to-time rule,
// and the shell steps run on the data volume (here with the host's sh on a folder standing for it).

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

const compose = `services:
  db:
    image: tenantctl/postgres:15
    labels: { tenantctl.tenant: acme }
    volumes: [db-data:/var/lib/postgresql/data]
  app:
    image: app
volumes:
  db-data: {}
`;

describe('withWalArchive', () => {
  it('gives the postgres service its archive volume, archiving flags and a root step that hands /archive to postgres', () => {
    const tree = parse(withWalArchive(compose, 'db', { archiveTimeoutSeconds: 60 }));
    expect(tree.services.db.volumes).toEqual(['db-data:/var/lib/postgresql/data', 'wal-archive:/archive']);
    expect(tree.services.db.command).toEqual(['postgres', '-c', 'archive_mode=on', '-c', `archive_command=${archiveCommand}`, '-c', 'archive_timeout=60']);
    expect(tree.services.db.entrypoint[2]).toContain('chown postgres:postgres /archive');
    // $$: compose's literal dollar, so "$@" reaches the shell.
    expect(tree.services.db.entrypoint[2]).toContain('"$$@"');
    expect(tree.volumes['wal-archive']).toEqual({ labels: { 'tenantctl.tenant': 'acme' } });
    expect(tree.services.app).toEqual({ image: 'app' });
  });

  it('starts a non-root postgres service as root again, with what its entrypoint needs to copy its secrets and drop (the archive volume is root\'s)', () => {
    const nonRoot = compose.replace('    labels: { tenantctl.tenant: acme }', '    labels: { tenantctl.tenant: acme }\n    user: "70001:70001"\n    cap_drop: [ALL]\n    tmpfs: ["/run/postgresql:uid=70001,gid=70001,mode=0775,size=1m"]');
    const db = parse(withWalArchive(nonRoot, 'db', { archiveTimeoutSeconds: 60 })).services.db;
    expect(db.user).toBe('0:0');
    expect(db.cap_add).toEqual(['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETUID', 'SETGID']);
    expect(db.tmpfs).toEqual(['/run/postgresql:uid=70001,gid=70001,mode=0775,size=1m', '/run/tenantctl:mode=0700,size=64k']);
    // So it mounts the operator's files, not a copy for uid 101 (which root without DAC_OVERRIDE could not read either way).
    expect(withSecretCopies(withWalArchive(nonRoot.replace('    cap_drop: [ALL]', '    cap_drop: [ALL]\n    secrets: [DB_PASSWORD]') + 'secrets:\n  DB_PASSWORD: { file: ./secrets/DB_PASSWORD }\n', 'db', { archiveTimeoutSeconds: 60 }))).not.toContain('user-101');
  });

  it('refuses a service with its own command, and a template without exactly one postgres piece', () => {
    expect(() => withWalArchive(compose.replace('image: tenantctl/postgres:15', 'image: x\n    command: ["sh"]'), 'db', { archiveTimeoutSeconds: 60 })).toThrow(/own command/);
    expect(() => pitrService({ state: {} } as any, 'mini')).toThrow(/exactly one postgres state piece/);
    expect(pitrService({ state: { db: { postgres: { service: 'db', database: 't', user: 'o' } }, redis: { redis: { service: 'redis' } } } } as any, 'crm')).toBe('db');
  });

  it('archives without overwriting, and only a copy that is on disk gets the segment\'s name', () => {
    expect(archiveCommand).toMatch(/^test ! -f \/archive\/%f && cp %p \/archive\/%f\.part && sync \/archive\/%f\.part && mv \/archive\/%f\.part \/archive\/%f && sync \/archive$/);
  });
});

describe('parseTargetTime', () => {
  const now = Date.parse('2026-12-06T12:00:00Z');
  it('takes ISO 8601 with a zone in the past', () => {
    expect(parseTargetTime('2026-12-06T11:30:00Z', now).toISOString()).toBe('2026-12-06T11:30:00.000Z');
    expect(parseTargetTime('2026-12-06T12:30:00+01:00', now).toISOString()).toBe('2026-12-06T11:30:00.000Z');
  });
  it.each(['yesterday', '2026-12-06T11:30:00', '2026-13-45T11:30:00Z', '2026-12-06T12:00:01Z', ''])('refuses %j (exit 2)', (raw) => {
    expect(() => parseTargetTime(raw, now)).toThrow(/--to-time/);
  });
});

describe('the data volume steps', () => {
  const where: VolumeWhere = { tenant: 'acme', volume: 'v', image: 'i', suffix: 'op1', dataDir: '/var/lib/postgresql/data' };
  const n = pitrNames('op1');
  const env = { ...process.env, STAGED: n.staged, WAL: n.wal, REPLACED: n.replaced, RESTORED: n.restored };
  const sh = (dir: string, script: string) => execFileSync('sh', ['-c', `set -eu\n${script.replaceAll('chown "$(stat -c %u:%g .)"', 'true')}`], { cwd: dir, env, encoding: 'utf8' });
  function volume(): string {
    const dir = mkdtempSync(path.join(tmpdir(), 'tenantctl-pitr-'));
    dirs.push(dir);
    writeFileSync(path.join(dir, 'PG_VERSION'), 'live');
    mkdirSync(path.join(dir, 'base'));
    writeFileSync(path.join(dir, 'base', 'rows'), 'live rows');
    return dir;
  }
  const stage = (dir: string) => {
    sh(dir, clearStageScript);
    writeFileSync(path.join(dir, n.staged, 'PG_VERSION'), 'restored');
    writeFileSync(path.join(dir, n.staged, 'postgresql.auto.conf'), '');
    sh(dir, recoverySettingsScript(where, '2026-12-06T11:30:00Z'));
  };

  it('stages recovery settings in PostgreSQL\'s own time format, swaps, and drops the replaced data once proven', () => {
    const dir = volume();
    stage(dir);
    const auto = readFileSync(path.join(dir, n.staged, 'postgresql.auto.conf'), 'utf8');
    expect(auto).toContain("recovery_target_time = '2026-12-06 11:30:00.000+00'");
    expect(auto).toContain(`restore_command = 'cp /var/lib/postgresql/data/${n.wal}/%f %p'`);
    expect(auto).toContain("recovery_target_timeline = 'current'");
    expect(existsSync(path.join(dir, n.staged, 'recovery.signal'))).toBe(true);
    sh(dir, swapScript);
    expect(readFileSync(path.join(dir, 'PG_VERSION'), 'utf8')).toBe('restored');
    expect(readFileSync(path.join(dir, n.replaced, 'base', 'rows'), 'utf8')).toBe('live rows');
    sh(dir, swapScript); // again after a kill: nothing changes
    expect(readFileSync(path.join(dir, 'PG_VERSION'), 'utf8')).toBe('restored');
    sh(dir, dropScript);
    expect(readdirSync(dir).sort()).toEqual(['PG_VERSION', 'postgresql.auto.conf', 'recovery.signal']);
  });

  it('an undo gives the live data back from any point, keeping a started server\'s data when asked', () => {
    for (const keep of [false, true]) {
      const dir = volume();
      stage(dir);
      sh(dir, swapScript);
      const out = sh(dir, putBackScript(keep));
      expect(readFileSync(path.join(dir, 'PG_VERSION'), 'utf8')).toBe('live');
      expect(readFileSync(path.join(dir, 'base', 'rows'), 'utf8')).toBe('live rows');
      expect(existsSync(path.join(dir, n.replaced))).toBe(false);
      expect(existsSync(path.join(dir, n.staged))).toBe(false);
      expect(out.includes('kept')).toBe(keep);
      if (keep) expect(readFileSync(path.join(dir, n.restored, 'PG_VERSION'), 'utf8')).toBe('restored');
      sh(dir, putBackScript(keep)); // again: still the live data
      expect(readFileSync(path.join(dir, 'PG_VERSION'), 'utf8')).toBe('live');
    }
  });

  it('an undo before the swap only removes the stage', () => {
    const dir = volume();
    stage(dir);
    sh(dir, putBackScript(false));
    expect(readdirSync(dir).sort()).toEqual(['PG_VERSION', 'base']);
  });
});

describe('room to stage a to-time restore', () => {
  it('reads the available KiB of df -Pk, and refuses what it cannot read', () => {
    expect(parseDfAvailable('Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/sda1 1000 400 600 40% /v\n')).toBe(600 * 1024);
    expect(() => parseDfAvailable('df: .: No such file')).toThrow(/free space/);
  });

  it('needs the base, the WAL and a margin of a tenth (256 MiB at least) free', () => {
    const MiB = 1024 * 1024;
    expect(stagingShortfall(2000 * MiB, 1000 * MiB, 100 * MiB)).toBe(0);
    expect(stagingShortfall(1200 * MiB, 1000 * MiB, 100 * MiB)).toBe(1100 * MiB + 256 * MiB - 1200 * MiB);
    expect(stagingShortfall(300 * MiB, 10 * MiB, 0)).toBe(0);
    expect(stagingShortfall(200 * MiB, 10 * MiB, 0)).toBe(66 * MiB);
    expect(stagingShortfall(10_000 * MiB, 4000 * MiB, 4000 * MiB)).toBe(0);
    expect(stagingShortfall(8500 * MiB, 4000 * MiB, 4000 * MiB)).toBe(300 * MiB);
  });
});

describe('a shipped WAL batch', () => {
  const fakeRepo = (fail = false) => {
    const calls: string[][] = [];
    return { calls, run: async (args: readonly string[]) => { calls.push([...args]); if (fail) throw new Error('repository locked'); return { stdout: '', stderrTail: '' }; } };
  };

  it('is kept when its tar ended well', async () => {
    const repo = fakeRepo();
    await trustedBatch(repo, 'abc123', Promise.resolve());
    expect(repo.calls).toEqual([]);
  });

  it('is forgotten when its tar died mid-stream, and the tar failure is what is thrown', async () => {
    const repo = fakeRepo();
    await expect(trustedBatch(repo, 'abc123', Promise.reject(new TenantctlError('docker', 'tar exited 137')))).rejects.toThrow('tar exited 137');
    expect(repo.calls).toEqual([['forget', 'abc123']]);
  });

  it('marks the prune owed before it is forgotten (its data is freed by the next prune, not only after a retention forget)', async () => {
    const order: string[] = [];
    const repo = { run: async (args: readonly string[]) => { order.push(args.join(' ')); return { stdout: '', stderrTail: '' }; } };
    await expect(trustedBatch(repo, 'abc123', Promise.reject(new TenantctlError('docker', 'tar exited 137')), async () => { order.push('forgotten'); }, async () => { order.push('prune owed'); })).rejects.toThrow('tar exited 137');
    expect(order).toEqual(['prune owed', 'forget abc123', 'forgotten']);
    order.length = 0;
    await trustedBatch(repo, 'abc123', Promise.resolve(), async () => { order.push('forgotten'); }, async () => { order.push('prune owed'); });
    expect(order).toEqual([]);
  });

  it('says so when it cannot be forgotten, still throwing the first cause', async () => {
    const error = (await trustedBatch(fakeRepo(true), 'abc123', Promise.reject(new TenantctlError('docker', 'tar exited 137'))).catch((e: unknown) => e)) as TenantctlError;
    expect(error.message).toBe('tar exited 137');
    expect(error.details.join(' ')).toContain('restic forget abc123');
  });
});

describe('a base backup\'s snapshot id', () => {
  it('is the id restic\'s summary names, and a summary without one is a repository failure (exit 13), never a row with an empty id', () => {
    const id = 'a'.repeat(64);
    expect(snapshotIdOf({ snapshot_id: id })).toBe(id);
    for (const summary of [{}, { snapshot_id: '' }, { snapshot_id: 42 }]) {
      expect(() => snapshotIdOf(summary)).toThrow(expect.objectContaining({ kind: 'repository' }));
    }
  });
});

describe('a WAL batch a killed shipper left in flight', () => {
  const seg = (n: number) => `0000000100000000000000${n.toString(16).toUpperCase().padStart(2, '0')}`;
  const batch = (over: Partial<InFlightBatch> = {}): InFlightBatch => ({ file: `wal-${seg(1)}-${seg(3)}-abc123.tar`, names: [seg(1), seg(2), seg(3)], startedAt: '2026-12-06T12:00:00.000Z', ...over });
  const snap = (id: string, p: string) => ({ id, time: '2026-12-06T12:00:05Z', paths: [p], tags: ['tenant=acme', 'kind=wal'] });
  const now = Date.parse('2026-12-06T12:05:00Z');

  it('recorded by restic with every file still in the volume: forgotten (maybe cut off), the files ship again, with the cause', () => {
    const [d] = decideInFlight([batch()], [snap('s1', `/wal-${seg(1)}-${seg(3)}-abc123.tar`), snap('s2', `/wal-${seg(1)}-${seg(3)}-ffffff.tar`)], new Set([seg(1), seg(2), seg(3), seg(4)]), now);
    expect(d).toMatchObject({ forget: ['s1'], removeRest: [], settled: true });
    expect(d!.cause).toMatch(/after restic recorded its batch.*cut off.*ship again/);
  });

  it('some files already removed: the batch was whole (read to its end by a tar that exited 0): kept, the rest removed', () => {
    const [d] = decideInFlight([batch()], [snap('s1', `wal-${seg(1)}-${seg(3)}-abc123.tar`)], new Set([seg(3)]), now);
    expect(d).toMatchObject({ forget: [], removeRest: [seg(3)], settled: true });
  });

  it('nothing recorded: looked at again (marked as shipped again) until an hour has passed; a late snapshot of a reshipped batch is forgotten', () => {
    const present = new Set([seg(1), seg(2), seg(3)]);
    expect(decideInFlight([batch()], [], present, now)[0]).toMatchObject({ forget: [], settled: false });
    expect(decideInFlight([batch()], [], present, Date.parse('2026-12-06T13:00:01Z'))[0]).toMatchObject({ forget: [], settled: true });
    const [late] = decideInFlight([batch({ reshipped: true })], [snap('s9', `/wal-${seg(1)}-${seg(3)}-abc123.tar`)], new Set(), now);
    expect(late).toMatchObject({ forget: ['s9'], removeRest: [], settled: true });
    expect(late!.cause).toMatch(/shipped again by a later batch/);
  });
});

describe('PITR retention: which base backups and WAL batches go', () => {
  const day = (d: number, h = 3) => `2026-12-${String(d).padStart(2, '0')}T${String(h).padStart(2, '0')}:00:00.000Z`;
  const base = (d: number) => ({ snapshotId: `b${d}`, startedAt: day(d), completedAt: day(d, 4) });
  const wal = (d: number, h: number) => ({ id: `w${d}-${h}`, time: day(d, h), paths: [`/wal-${d}-${h}.tar`], tags: ['kind=wal'] });
  const bases = [1, 2, 3, 4, 5].map(base);
  // The bases' snapshots as restic lists them (full ids; rows may hold a prefix).
  const baseSnapshots = bases.map((b) => ({ id: `${b.snapshotId}${'0'.repeat(62)}`, time: b.startedAt, paths: ['/pgdata.tar'] }));
  const walSnapshots = [1, 2, 3, 4, 5].flatMap((d) => [0, 2, 3, 12].map((h) => wal(d, h)));
  const now = Date.parse(day(5, 20));

  it('keeps the newest N bases and every WAL batch the oldest kept one replays (with the restore\'s slack and an hour more)', () => {
    const c = choosePitrRetention({ bases, baseSnapshots, walSnapshots, policy: { keepBaseBackups: 2 }, now });
    expect(c.keptBases).toEqual(['b5', 'b4']);
    expect(c.bases).toEqual(['b3', 'b2', 'b1']);
    // The oldest kept base began 12-04 03:00: batches from 01:59 on stay (02:00 of that day included), older go.
    expect(c.walBefore).toBe('2026-12-04T01:59:00.000Z');
    expect(c.wal).toEqual(walSnapshots.filter((w) => Date.parse(w.time) < Date.parse('2026-12-04T01:59:00Z')).map((w) => w.id));
    expect(c.wal).not.toContain('w4-2');
    expect(c.wal).toContain('w4-0');
  });

  it('keepDays keeps every base completed within them too; a base or batch a running restore reads is never chosen', () => {
    const c = choosePitrRetention({ bases, baseSnapshots, walSnapshots, policy: { keepBaseBackups: 1, keepDays: 2 }, now, inUse: new Set(['b1', 'w1-0']) });
    expect(c.keptBases.sort()).toEqual(['b1', 'b4', 'b5']);
    expect(c.bases.sort()).toEqual(['b2', 'b3']);
    // b1 is read by a restore: every batch after its start stays.
    expect(c.wal).toEqual([]);
  });

  it('nothing recorded: nothing goes; an unrecorded base snapshot older than the kept ones (a killed backup\'s) goes', () => {
    expect(choosePitrRetention({ bases: [], baseSnapshots: [], walSnapshots, policy: { keepBaseBackups: 1 }, now })).toMatchObject({ bases: [], wal: [], strayBases: [] });
    // Rows hold restic's short id, listings the full one: a recorded base is never a stray.
    expect(choosePitrRetention({ bases, baseSnapshots, walSnapshots, policy: { keepBaseBackups: 2 }, now }).strayBases).toEqual([]);
    const stray = [...baseSnapshots, { id: 'x1', time: day(2), paths: ['/base.tar'] }, { id: 'x5', time: day(5, 10), paths: ['/base.tar'] }];
    expect(choosePitrRetention({ bases, baseSnapshots: stray, walSnapshots, policy: { keepBaseBackups: 2 }, now })).toMatchObject({ bases: ['b3', 'b2', 'b1'], strayBases: ['x1'] });
    expect(choosePitrRetention({ bases, baseSnapshots: stray, walSnapshots, policy: { keepBaseBackups: 7 }, now })).toMatchObject({ bases: [], strayBases: [], wal: ['w1-0'] }); // older than the oldest base: nothing replays it
  });
});

describe('PITR retention: which snapshots a doomed base row names', () => {
  // Rows hold restic 0.14's 8-hex short id; listings the full one. Two snapshots may share the prefix.
  const snap = (id: string, kind = 'pitr-base') => ({ id, time: '2026-12-01T00:00:00Z', paths: ['/pgdata.tar'], tags: [`kind=${kind}`] });
  const full = (short: string, tail: string) => short + tail.repeat(56);

  it('forgets the one base snapshot a doomed row names, present stray bases and WAL batches, and nothing kept', () => {
    const baseSnapshots = [snap(full('aaaaaaaa', '1')), snap(full('bbbbbbbb', '2')), snap(full('cccccccc', '3'))];
    const walSnapshots = [snap(full('dddddddd', '4'), 'wal'), snap(full('aaaaaaaa', '5'), 'wal')];
    const got = snapshotsToForget({ intent: { bases: ['aaaaaaaa'], strayBases: [full('cccccccc', '3'), full('eeeeeeee', '6')], wal: [full('dddddddd', '4')] }, baseSnapshots, walSnapshots, keptRows: ['bbbbbbbb'] });
    // The WAL batch sharing the doomed base's prefix is no base: never matched by the row.
    expect(got).toEqual([full('aaaaaaaa', '1'), full('cccccccc', '3'), full('dddddddd', '4')]);
  });

  it('forgets nothing when a doomed id names two base snapshots, or one a kept row names too', () => {
    const twins = [snap(full('aaaaaaaa', '1')), snap(full('aaaaaaaa', '2'))];
    expect(() => snapshotsToForget({ intent: { bases: ['aaaaaaaa'], strayBases: [], wal: [] }, baseSnapshots: twins, walSnapshots: [], keptRows: [] })).toThrow(/forgot nothing: base backup aaaaaaaa names 2 snapshots/);
    // A resumed run whose doomed snapshot is gone: its prefix must not take the kept base's snapshot.
    const keptOnly = [snap(full('aaaaaaaa', '2'))];
    expect(() => snapshotsToForget({ intent: { bases: ['aaaaaaaa'], strayBases: [], wal: [] }, baseSnapshots: keptOnly, walSnapshots: [], keptRows: [full('aaaaaaaa', '2').slice(0, 9)] })).toThrow(/also named by a kept base backup/);
    // Forgotten already (a resumed run): nothing to do for it.
    expect(snapshotsToForget({ intent: { bases: ['ffffffff'], strayBases: [], wal: [] }, baseSnapshots: keptOnly, walSnapshots: [], keptRows: [] })).toEqual([]);
  });
});

describe('PITR retention: bases whose snapshot is missing', () => {
  const day = (d: number, h = 3) => `2026-12-${String(d).padStart(2, '0')}T${String(h).padStart(2, '0')}:00:00.000Z`;
  const bases = [1, 2, 3].map((d) => ({ snapshotId: `b${d}`, startedAt: day(d), completedAt: day(d, 4) }));
  const snap = (d: number) => ({ id: `b${d}${'0'.repeat(62)}`, time: day(d), paths: ['/pgdata.tar'] });
  const walSnapshots = [{ id: 'w1', time: day(1, 0), paths: ['/w.tar'] }];
  const now = Date.parse(day(3, 20));

  it('forgets nothing when the newest recorded base is not in the repository', () => {
    const c = choosePitrRetention({ bases, baseSnapshots: [snap(1), snap(2)], walSnapshots, policy: { keepBaseBackups: 1 }, now });
    expect(c).toMatchObject({ bases: [], strayBases: [], wal: [] });
  });

  it('counts only present bases as kept: a missing older one is no reason to keep fewer', () => {
    // b2's snapshot is gone: the newest one present (b3) is kept, b1 goes.
    const c = choosePitrRetention({ bases, baseSnapshots: [snap(1), snap(3)], walSnapshots, policy: { keepBaseBackups: 2 }, now });
    expect(c.keptBases).toEqual(['b3', 'b1']);
    expect(choosePitrRetention({ bases, baseSnapshots: [snap(1), snap(3)], walSnapshots, policy: { keepBaseBackups: 1 }, now }).bases).toEqual(['b1']);
  });
});
