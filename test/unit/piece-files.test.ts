import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileNames, lookScript, putBackScript, stageScript, swapScript, dropScript } from '../../src/backups/piece-files.js';
import type { Piece } from '../../src/backups/pieces.js';

// The shell steps a restore runs on a piece's volume, run here with the host's sh on a folder that
// stands for the volume (in production: a container of the service's image, the volume at /v).
// What matters: each step may run again after a kill, and an undo gives back the tenant's own files.

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

const redis: Piece = { name: 'redis', kind: 'redis', service: 'redis', file: 'redis.rdb', mount: '/data', entries: ['appendonlydir', 'dump.rdb', 'appendonly.aof'] };
const sqlite: Piece = { name: 'backend', kind: 'sqlite', service: 'backend', file: 'backend.sqlite', mount: '/data', path: '/data/app.db', entries: ['app.db', 'app.db-wal', 'app.db-shm', 'app.db-journal'] };
const volume: Piece = { name: 'files', kind: 'volume', service: 'files', file: 'files.tar', mount: '/srv', entries: '*' };
const names = (piece: Piece) => fileNames('op1', piece);

function volumeDir(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'tenantctl-piece-'));
  dirs.push(dir);
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), content);
  }
  return dir;
}

function run(dir: string, piece: Piece, script: string, input?: string | Buffer): string {
  const n = names(piece);
  return execFileSync('sh', ['-c', `set -eu\ncd "$V"\n${script}`], {
    input, encoding: 'utf8', env: { PATH: process.env.PATH, V: dir, ASIDE: n.aside, INCOMING: n.incoming, KEPT: n.kept },
  });
}

/** The volume's files (not the restore's own folders) and their contents. */
function live(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (sub: string) => {
    for (const entry of readdirSync(path.join(dir, sub), { withFileTypes: true })) {
      const rel = path.join(sub, entry.name);
      if (rel.startsWith('.tenantctl-')) continue;
      if (entry.isDirectory()) walk(rel);
      else out[rel] = readFileSync(path.join(dir, rel), 'utf8');
    }
  };
  walk('');
  return out;
}

describe('restore steps on a piece kept as files', () => {
  it('redis: staged beside the live files, swapped in, put back on undo (the restored files dropped)', () => {
    const dir = volumeDir({ 'dump.rdb': 'OLD', 'appendonlydir/appendonly.aof.1.base.rdb': 'OLD-BASE', 'other.txt': 'not redis' });
    run(dir, redis, stageScript(redis), 'REDIS-NEW');
    expect(run(dir, redis, lookScript).trim()).toBe('staged');
    expect(live(dir)['dump.rdb']).toBe('OLD');
    run(dir, redis, swapScript(redis));
    expect(live(dir)).toMatchObject({ 'dump.rdb': 'REDIS-NEW', 'appendonlydir/appendonly.aof.1.base.rdb': 'REDIS-NEW', 'other.txt': 'not redis' });
    expect(readFileSync(path.join(dir, 'appendonlydir/appendonly.aof.manifest'), 'utf8')).toMatch(/type b/);
    expect(run(dir, redis, lookScript).trim()).toBe('aside');
    expect(run(dir, redis, putBackScript(redis, false)).trim()).toBe('');
    expect(live(dir)).toEqual({ 'dump.rdb': 'OLD', 'appendonlydir/appendonly.aof.1.base.rdb': 'OLD-BASE', 'other.txt': 'not redis' });
    expect(run(dir, redis, lookScript).trim()).toBe('');
  });

  it('a swap run again after a kill goes on from where it was, and never sets the backup\'s files aside', () => {
    const dir = volumeDir({ 'app.db': 'OLD', 'app.db-wal': 'OLD-WAL' });
    run(dir, sqlite, stageScript(sqlite), 'SQLite format 3\0NEW');
    // Killed after the live files went aside (complete) and before the staged file moved in.
    const n = names(sqlite);
    run(dir, sqlite, `mkdir -p "$ASIDE" && mv app.db app.db-wal "$ASIDE/" && touch "$ASIDE/.tenantctl-complete"`);
    run(dir, sqlite, swapScript(sqlite));
    expect(live(dir)).toEqual({ 'app.db': 'SQLite format 3\0NEW' });
    run(dir, sqlite, swapScript(sqlite)); // a third time: done, nothing moves
    expect(live(dir)).toEqual({ 'app.db': 'SQLite format 3\0NEW' });
    expect(readFileSync(path.join(dir, n.aside, 'app.db'), 'utf8')).toBe('OLD');
    expect(readFileSync(path.join(dir, n.aside, 'app.db-wal'), 'utf8')).toBe('OLD-WAL');
    run(dir, sqlite, dropScript);
    expect(existsSync(path.join(dir, n.aside))).toBe(false);
  });

  it('an undo before the live files were all set aside leaves the tenant\'s own files as they are', () => {
    const dir = volumeDir({ 'app.db': 'OLD', 'app.db-wal': 'OLD-WAL' });
    run(dir, sqlite, stageScript(sqlite), 'SQLite format 3\0NEW');
    // Killed half-way through setting aside: the WAL moved, the database not, no .complete.
    run(dir, sqlite, 'mkdir -p "$ASIDE" && mv app.db-wal "$ASIDE/"');
    run(dir, sqlite, putBackScript(sqlite, true));
    expect(live(dir)).toEqual({ 'app.db': 'OLD', 'app.db-wal': 'OLD-WAL' });
    expect(run(dir, sqlite, lookScript).trim()).toBe('');
  });

  it('a whole volume: archived files swapped in; an undo after the restored stack ran keeps its files in KEPT', () => {
    const source = volumeDir({ 'uploads/a.png': 'NEW-A', 'index.html': 'NEW' });
    const archive = execFileSync('tar', ['-C', source, '-cf', '-', '.']);
    const dir = volumeDir({ 'uploads/b.png': 'OLD-B', 'index.html': 'OLD' });
    run(dir, volume, stageScript(volume), archive);
    run(dir, volume, swapScript(volume));
    expect(live(dir)).toEqual({ 'uploads/a.png': 'NEW-A', 'index.html': 'NEW' });
    expect(run(dir, volume, putBackScript(volume, true)).trim()).toBe('kept');
    expect(live(dir)).toEqual({ 'uploads/b.png': 'OLD-B', 'index.html': 'OLD' });
    expect(readFileSync(path.join(dir, names(volume).kept, 'index.html'), 'utf8')).toBe('NEW');
    expect(run(dir, volume, lookScript).trim()).toBe('kept');
  });

  it('a put-back stopped half-way and run again never drops the tenant\'s entries it had already put back', () => {
    const dir = volumeDir({ 'dump.rdb': 'OLD', 'appendonlydir/appendonly.aof.1.base.rdb': 'OLD-BASE' });
    run(dir, redis, stageScript(redis), 'REDIS-NEW');
    run(dir, redis, swapScript(redis));
    // Stopped after the restored entries were dropped and appendonlydir came back, dump.rdb not yet.
    const full = putBackScript(redis, false);
    const upToFirstMoveBack = full.slice(0, full.indexOf('  for f in', full.indexOf('rm -f "$ASIDE/.tenantctl-complete"')));
    run(dir, redis, `${upToFirstMoveBack}\nmv -- "$ASIDE/appendonlydir" ./appendonlydir\nfi`);
    expect(live(dir)).toEqual({ 'appendonlydir/appendonly.aof.1.base.rdb': 'OLD-BASE' });
    run(dir, redis, full);
    expect(live(dir)).toEqual({ 'dump.rdb': 'OLD', 'appendonlydir/appendonly.aof.1.base.rdb': 'OLD-BASE' });
    expect(run(dir, redis, lookScript).trim()).toBe('');
  });

  it('a whole volume: names with spaces, a newline or a leading "-" are swapped in and put back like any other', () => {
    const odd = { 'report 2024.pdf': 'NEW-R', 'my uploads/a b.png': 'NEW-A', '-flag': 'NEW-F', 'line\nbreak': 'NEW-L' };
    const source = volumeDir(odd);
    const archive = execFileSync('tar', ['-C', source, '-cf', '-', '.']);
    const dir = volumeDir({ 'report 2024.pdf': 'OLD-R', 'my uploads/old.png': 'OLD-O', '-flag': 'OLD-F' });
    run(dir, volume, stageScript(volume), archive);
    run(dir, volume, swapScript(volume));
    expect(live(dir)).toEqual(odd);
    expect(existsSync(path.join(dir, names(volume).incoming))).toBe(false);
    run(dir, volume, putBackScript(volume, false));
    expect(live(dir)).toEqual({ 'report 2024.pdf': 'OLD-R', 'my uploads/old.png': 'OLD-O', '-flag': 'OLD-F' });
    expect(run(dir, volume, lookScript).trim()).toBe('');
  });

  it('names its folders after the operation and the piece, so two pieces on one volume never meet', () => {
    expect(fileNames('op1', redis)).toEqual({ aside: '.tenantctl-replaced-op1-redis', incoming: '.tenantctl-restore-op1-redis', kept: '.tenantctl-restored-op1-redis' });
    expect(fileNames('op1', sqlite).aside).not.toBe(fileNames('op1', redis).aside);
  });

  it('a swap with nothing staged and nothing set aside fails, naming what is missing', () => {
    const dir = volumeDir({ 'dump.rdb': 'OLD' });
    expect(() => run(dir, redis, swapScript(redis))).toThrow(/nothing staged/);
    expect(live(dir)).toEqual({ 'dump.rdb': 'OLD' });
  });
});
