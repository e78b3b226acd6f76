import type { Context } from '../context.js';
import type { DockerHost } from '../engine/docker-host.js';
import { messageOf } from '../common/errors.js';
import { probeHost } from '../hosts/probe.js';
import { networkSubnets, tmpfsOverImageVolumes } from '../engine/docker.js';
import { choosePorts } from '../allocation/ports.js';
import { firstFreeBlock, parsePool } from '../allocation/subnets.js';
import { configuredTemplate, portRangesOf } from '../templates/configured.js';
import { parseDfAvailable } from '../pitr/volume-steps.js';
import { dockerQueryTimeoutMs, recoverFitCheckTimeoutMs } from '../common/timeouts.js';

// Whether a tenant fits the host recover would place it on, asked before anything of it is made
// (before its journal row): the host answers (docker info), the tenant's ports and a subnet are
// free there (the registry's allocations on that host and what the host itself uses, as provision
// chooses them), and the host's Docker storage has room for the restore. A tenant that does not
// fit is reported "not placed: <why>" with nothing made, rather than provisioned and undone half-way.
// The room is counted per host for the whole run: each tenant placed reserves its share of the free
// space measured once (tenants restored side by side share one disk). The ports and subnet are a
// check, not a reservation: provision reserves them in the registry as always, and two tenants
// racing for the last free port are told apart there (the loser fails and is undone).

/**
 * The room a restore takes on the host, by the backup's size: a PostgreSQL dump restores into
 * tables and indexes larger than itself and is staged in a scratch database before the swap, so
 * twice its size, plus 256 MiB for the stack's images' writable layers, logs and WAL.
 */
export function restoreNeedBytes(backupBytes: number): number {
  return Math.ceil(backupBytes * 2) + 256 * 1024 * 1024;
}

export interface HostRoom { freeBytes: number; reservedBytes: number }

/** Reserves the room for a tenant on a host's measured free space, or says why it does not fit (pure). */
export function reserveRoom(room: HostRoom, needBytes: number, host: string): string | undefined {
  const left = room.freeBytes - room.reservedBytes;
  const mib = (n: number) => `${Math.ceil(n / 1024 / 1024)} MiB`;
  if (needBytes > left) {
    return `Docker host ${host} has ${mib(left)} free for restores${room.reservedBytes > 0 ? ` (${mib(room.freeBytes)} free, ${mib(room.reservedBytes)} taken by tenants placed before it in this run)` : ''}, and restoring this backup needs ${mib(needBytes)} (twice its size and 256 MiB)`;
  }
  room.reservedBytes += needBytes;
  return undefined;
}

/** The fit checks of one recover run: each host's free space measured once and shared out. */
export class Placement {
  private readonly rooms = new Map<string, Promise<HostRoom>>();

  constructor(private readonly ctx: Context) {}

  /** Whether the host answers; why not, else undefined. */
  async answers(target: DockerHost): Promise<string | undefined> {
    const probe = await probeHost(target, this.ctx.signal);
    return probe.reachable ? undefined : `Docker host ${target.id} does not answer (${probe.error})`;
  }

  /**
   * Whether the tenant's ports and a subnet are free there; why not, else undefined. Asked only once
   * the host is known to hold nothing of the tenant: a tenant alive there holds its own ports.
   */
  async allocations(target: DockerHost, tenant: { id: string; template: string; profiles: string[] }): Promise<string | undefined> {
    const db = await this.ctx.adminDb();
    const { rows } = await db.pool.query('SELECT kind, value FROM admin_allocations WHERE host = $1 AND customer_id <> $2', [target.id, tenant.id]).catch(db.unreachable);
    const template = await configuredTemplate(this.ctx.config, tenant.template);
    const held = new Set(rows.filter((r) => r.kind === 'port').map((r) => Number(r.value)));
    const ports = await choosePorts(target, portRangesOf(this.ctx.config, template, tenant.profiles), held);
    if (!ports.ok) return `no ${ports.service} port free on ${target.id}: ${ports.reason}`;
    const pool = parsePool(this.ctx.config.subnets.pool, this.ctx.config.subnets.prefixLength);
    const subnets = new Set(rows.filter((r) => r.kind === 'subnet').map((r) => String(r.value)));
    if (!firstFreeBlock(pool, subnets, await networkSubnets(target, this.ctx.signal))) return `subnet pool ${this.ctx.config.subnets.pool} has no free /${this.ctx.config.subnets.prefixLength} block on ${target.id}`;
    return undefined;
  }

  /** Room for a restore of `backupBytes` on the host, reserved for this run; why not, else undefined. */
  async room(target: DockerHost, backupBytes: number | null): Promise<string | undefined> {
    let room = this.rooms.get(target.id);
    if (!room) {
      room = freeDockerSpace(this.ctx, target).then((freeBytes) => ({ freeBytes, reservedBytes: 0 }));
      this.rooms.set(target.id, room);
    }
    const measured = await room.catch((error: unknown) => messageOf(error));
    if (typeof measured === 'string') return `the free space of Docker host ${target.id} could not be measured (${measured})`;
    // A backup of unknown size (a folder backup recorded without one) is counted as empty: the margin still applies.
    return reserveRoom(measured, restoreNeedBytes(backupBytes ?? 0), target.id);
  }
}

/**
 * The space free where the host's Docker keeps volumes (its DockerRootDir), measured by `df` in a
 * throwaway container of the tenants' PostgreSQL image (on the host already, or pulled as provision
 * would): the same way for a local and a remote engine, no network, the root mounted read-only.
 */
async function freeDockerSpace(ctx: Context, host: DockerHost): Promise<number> {
  const root = (await host.docker(['info', '--format', '{{.DockerRootDir}}'], { signal: ctx.signal, timeoutMs: dockerQueryTimeoutMs })).trim();
  if (!root.startsWith('/')) throw new Error(`docker info named ${JSON.stringify(root.slice(0, 80))} as its root directory`);
  const noAnonymousVolume = await tmpfsOverImageVolumes(host, ctx.config.images.postgres, ctx.signal);
  const out = await host.docker([
    'run', '--rm', '--network', 'none', '--read-only', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', '--label', 'tenantctl.helper=recover-fit',
    ...noAnonymousVolume, '--entrypoint', 'df', '-v', `${root}:/docker-root:ro`, ctx.config.images.postgres, '-Pk', '/docker-root',
  ], { signal: ctx.signal, timeoutMs: recoverFitCheckTimeoutMs });
  return parseDfAvailable(out);
}
