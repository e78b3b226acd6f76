// Which users and groups an image change moves to other numbers, from the two images' own
// /etc/passwd and /etc/group: tenantctl's images gave their service users fixed high uids (README,
// "Service users"), so a tenant upgraded from an image where postgres was 101:103 to one where it is
// 70001:70001 has a data volume owned by numbers the new service does not run as. A user (or
// group) counts as moved when both images have it by name under different numbers; one only one
// image has is nobody's to move. Pure: the files' text in, the moves out (unit-tested).

/** A number that changes: files owned by `from` are given to `to`. */
export interface IdMove {
  /** The user's or group's name in both images (for messages). */
  name: string;
  from: number;
  to: number;
}

export interface IdMoves {
  users: IdMove[];
  groups: IdMove[];
}

export const noMoves = (m: IdMoves) => m.users.length === 0 && m.groups.length === 0;

/**
 * `cat /etc/passwd /etc/group` of an image (one run, so one container start): passwd lines have
 * seven fields, group lines four. Names by number; a line of any other shape, or a number that is
 * not one, is skipped (the files are the image's, not trusted to be tidy).
 */
export function parseAccounts(text: string): { users: Map<string, number>; groups: Map<string, number> } {
  const users = new Map<string, number>();
  const groups = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const fields = line.split(':');
    const id = Number(fields[2]);
    if (!fields[0] || !/^\d+$/.test(fields[2] ?? '') || !Number.isSafeInteger(id)) continue;
    if (fields.length === 7 && !users.has(fields[0])) users.set(fields[0], id);
    else if (fields.length === 4 && !groups.has(fields[0])) groups.set(fields[0], id);
  }
  return { users, groups };
}

/**
 * The users and groups both images have, under another number in the new one. Never root's (0 on
 * either side): root's files are never given away, and nothing is given to root.
 */
export function movedIds(before: string, after: string): IdMoves {
  const a = parseAccounts(before);
  const b = parseAccounts(after);
  const moved = (x: Map<string, number>, y: Map<string, number>): IdMove[] => [...x]
    .filter(([name, from]) => y.has(name) && y.get(name) !== from && from !== 0 && y.get(name) !== 0)
    .map(([name, from]) => ({ name, from, to: y.get(name)! }))
    .sort((p, q) => p.from - q.from);
  return { users: moved(a.users, b.users), groups: moved(a.groups, b.groups) };
}

/**
 * Why the moves cannot be made by one pass of "files of `from` become `to`'s", or undefined: a
 * number that is both given and taken (a swap or a chain: 100 -> 101 and 101 -> 102 would merge
 * two owners), or two moves from one number to different ones.
 */
export function movesProblem(moves: IdMoves): string | undefined {
  for (const [kind, list] of [['uid', moves.users], ['gid', moves.groups]] as const) {
    const from = new Map<number, number>();
    for (const m of list) {
      if (from.has(m.from) && from.get(m.from) !== m.to) return `${kind} ${m.from} would move to both ${from.get(m.from)} and ${m.to}`;
      from.set(m.from, m.to);
    }
    const both = list.find((m) => from.has(m.to));
    if (both) return `${kind} ${both.to} is both moved (from ${both.to} to ${from.get(both.to)}) and given (${both.name}: from ${both.from}): the owners would merge`;
  }
  return undefined;
}

/** The same moves the other way (a rollback). */
export function reversed(moves: IdMoves): IdMoves {
  const flip = (list: IdMove[]) => list.map((m) => ({ name: m.name, from: m.to, to: m.from }));
  return { users: flip(moves.users), groups: flip(moves.groups) };
}

/** Two services' moves for one volume agree (same numbers each way, names aside). */
export function sameMoves(x: IdMoves, y: IdMoves): boolean {
  const key = (m: IdMoves) => JSON.stringify([m.users.map((u) => [u.from, u.to]), m.groups.map((g) => [g.from, g.to])]);
  return key(x) === key(y);
}

/**
 * The helper's sh script: for each move, every file, folder and link in the volume (one filesystem,
 * links themselves, not their targets) owned by `from` given to `to`; nothing else changes. Run
 * again after a kill it finishes what is left. The numbers come as arguments, never in the script.
 */
export const reownScript = [
  'set -eu',
  'cd /v',
  'while [ "$#" -ge 3 ]; do',
  '  case "$1" in',
  '    u) find . -xdev -uid "$2" -exec chown -h "$3" {} + ;;',
  '    g) find . -xdev -gid "$2" -exec chgrp -h "$3" {} + ;;',
  '    *) echo "reown: unknown kind $1" >&2; exit 2 ;;',
  '  esac',
  '  shift 3',
  'done',
].join('\n');

/** The script's arguments for `moves`: "u FROM TO" and "g FROM TO" triples, whole numbers only. */
export function reownArgs(moves: IdMoves): string[] {
  const args: string[] = [];
  for (const [kind, list] of [['u', moves.users], ['g', moves.groups]] as const) {
    for (const m of list) {
      if (!Number.isSafeInteger(m.from) || !Number.isSafeInteger(m.to) || m.from < 0 || m.to < 0) throw new Error(`not a ${kind === 'u' ? 'uid' : 'gid'}: ${m.from} -> ${m.to}`);
      args.push(kind, String(m.from), String(m.to));
    }
  }
  return args;
}
