import type { IdMoves } from './service-users.js';
import { parseAccounts } from './service-users.js';

// Which volumes an upgrade hands to other numbers, from the numbers the services actually run as
// (not from which images changed): a tenant's container recreated on a rebuilt image under its old
// `user:` line (any `compose up` after scripts/build-images.sh moved the tag) runs the new image
// as the old numbers, on a volume still theirs; its next upgrade must still move it. Pure: what
// Docker said in, the plan or a one-line refusal out (unit-tested).

/** One service of the running stack that mounts named volumes. */
export interface ServiceNow {
  service: string;
  /** The engine's names of the named volumes its container mounts. */
  volumes: string[];
  /** Its container's Config.User ("101:103", "postgres", "" for root). */
  runsAs: string;
  /** The `user:` line the new render gives it, if any. */
  willRunAs?: string;
  /** Moves by account name between its running and new images, for a service that starts as root (no numbers to compare); undefined when they cannot be read. */
  byName?: IdMoves;
}

export interface PlannedVolume {
  volume: string;
  /** Every service mounting it: all are stopped while it changes owners. */
  services: string[];
  moves: IdMoves;
}

/** "uid[:gid]" with whole numbers, else undefined (a name, or root's empty user). */
export function numericUser(user: string | undefined): { uid: number; gid?: number } | undefined {
  const m = /^(\d+)(?::(\d+))?$/.exec((user ?? '').trim());
  if (!m) return undefined;
  return { uid: Number(m[1]), gid: m[2] === undefined ? undefined : Number(m[2]) };
}

/**
 * The moves of one service from the numbers it runs as to the ones it will run as: both numeric
 * (`user:` lines, the old one as its container has it) and different; root's never moved, nothing
 * given to root. A service starting as root (no numbers) falls back to its images' moves by name.
 */
export function serviceMoves(s: ServiceNow): IdMoves {
  const now = numericUser(s.runsAs);
  const next = numericUser(s.willRunAs);
  if (!now || !next) return s.byName ?? { users: [], groups: [] };
  const users = now.uid !== next.uid && now.uid !== 0 && next.uid !== 0 ? [{ name: s.service, from: now.uid, to: next.uid }] : [];
  const groups = now.gid !== undefined && next.gid !== undefined && now.gid !== next.gid && now.gid !== 0 && next.gid !== 0
    ? [{ name: s.service, from: now.gid, to: next.gid }] : [];
  return { users, groups };
}

const key = (m: IdMoves) => JSON.stringify([m.users.map((u) => [u.from, u.to]), m.groups.map((g) => [g.from, g.to])]);
const empty = (m: IdMoves) => m.users.length === 0 && m.groups.length === 0;

/**
 * Each volume to move, with every service mounting it. Throws a one-line reason (the caller's exit
 * 2, nothing changed) when two services mounting one volume would move it differently, or one of
 * them would still run as a number the volume is taken from.
 */
export function planVolumes(services: readonly ServiceNow[]): PlannedVolume[] {
  const movesOf = new Map(services.map((s) => [s.service, serviceMoves(s)]));
  const volumes = [...new Set(services.flatMap((s) => s.volumes))].sort();
  const plan: PlannedVolume[] = [];
  for (const volume of volumes) {
    const mounting = services.filter((s) => s.volumes.includes(volume)).map((s) => s.service).sort();
    const moving = mounting.filter((s) => !empty(movesOf.get(s)!));
    if (moving.length === 0) continue;
    const moves = movesOf.get(moving[0]!)!;
    const other = moving.find((s) => key(movesOf.get(s)!) !== key(moves));
    if (other) throw new Error(`volume ${volume} is mounted by ${moving[0]} and ${other}, whose new users would move its owners differently`);
    for (const s of mounting.filter((x) => !moving.includes(x))) {
      const next = numericUser(services.find((x) => x.service === s)!.willRunAs);
      if (next && (moves.users.some((m) => m.from === next.uid) || (next.gid !== undefined && moves.groups.some((m) => m.from === next.gid)))) {
        throw new Error(`volume ${volume} would be given to ${moves.users.map((m) => m.to).join(', ') || 'new owners'} for ${moving.join(', ')}, but ${s}, which mounts it too, would still run as ${services.find((x) => x.service === s)!.willRunAs}`);
      }
    }
    plan.push({ volume, services: mounting, moves });
  }
  return plan;
}

/**
 * The operator's template drifting from its images: a rendered `user:` whose uid (gid) is an
 * account's number in the image the service runs now while the new image gives that account
 * another number (a template still saying 101:103 for postgres upgraded onto the image where
 * postgres is 70001). The service would run as numbers its image no longer has; undefined when fine.
 */
export function userDrift(service: string, willRunAs: string | undefined, runningAccounts: string, newAccounts: string): string | undefined {
  const next = numericUser(willRunAs);
  if (!next) return undefined;
  const a = parseAccounts(runningAccounts);
  const b = parseAccounts(newAccounts);
  for (const [kind, id, was, now] of [['user', next.uid, a.users, b.users], ['group', next.gid, a.groups, b.groups]] as const) {
    if (id === undefined || id === 0) continue;
    const name = [...was].find(([, n]) => n === id)?.[0];
    const moved = name === undefined ? undefined : now.get(name);
    if (name !== undefined && moved !== undefined && moved !== id) {
      return `the template runs ${service} as user "${willRunAs}", but its new image gives ${kind} ${name} ${moved} (was ${id}): make the template's user: line match the image (README, "Service users")`;
    }
  }
  return undefined;
}
