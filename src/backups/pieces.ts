import { parse } from 'yaml';
import type { Context } from '../context.js';
import { TenantctlError } from '../common/errors.js';
import type { StatePieceDeclaration, TemplateBlock } from '../templates/block-schema.js';
import { fillBlockText, templateValues, type HostValues, type TenantValues } from '../templates/values.js';
import { hostValuesOf } from '../templates/configured.js';
import { namedVolumeMounts, volumeHolding } from '../templates/volume-mounts.js';
import type { Template } from '../templates/template.js';
import type { TenantRuntime } from '../runtime/tenant-runtime.js';
import { servicesOf } from '../tenants/day2-target.js';
import { stackContainer } from './containers.js';

// A tenant's state as its template declares it (x-tenantctl.state), resolved for one tenant: each
// piece with its kind, its service, its rendered names (a database name may hold the tenant id) and,
// for the kinds kept as files, the named volume and the path in it. What backup, restore, move and
// clone work from; a piece of a service whose profile is off is not part of the tenant's state.

export type PieceKind = 'postgres' | 'redis' | 'sqlite' | 'volume';

/** The backup file of a piece: <name>.<extension of its kind>. */
export const pieceExtension: Record<PieceKind, string> = { postgres: 'dump', redis: 'rdb', sqlite: 'sqlite', volume: 'tar' };

export interface Piece {
  name: string;
  kind: PieceKind;
  service: string;
  file: string;
  /** postgres: the database and its owner (dump and restore run as it). */
  database?: string;
  user?: string;
  /** redis: the secret it authenticates with. */
  passwordSecret?: string;
  /**
   * The kinds kept as files (redis, sqlite, volume): where the service mounts the volume holding
   * them, and the piece's files relative to it (redis: its files in `dir`; sqlite: the database and
   * its journal files; volume: '*', everything).
   */
  mount?: string;
  entries?: string[] | '*';
  /** sqlite: how the online backup is taken, and the file's path in the container. */
  via?: 'python3' | 'sqlite3';
  path?: string;
}

/** The state pieces of a tenant: its template's, without those of services that do not run for its profiles. */
export function tenantPieces(template: Pick<Template, 'block' | 'name'>, rendered: string, tenant: TenantValues & { profiles: readonly string[] }, host: HostValues): Piece[] {
  const running = new Set(servicesOf(rendered, tenant.profiles));
  const tree = (parse(rendered, { merge: true, maxAliasCount: -1 }) ?? {}) as Record<string, unknown>;
  const mounts = namedVolumeMounts(tree);
  const values = templateValues(template, tenant, host);
  return Object.entries(template.block.state)
    .map(([name, declaration]) => resolvePiece(name, declaration, mounts, values))
    .filter((piece) => running.has(piece.service));
}

/**
 * The state pieces (name and kind) a tenant of `template` with `profiles` has, before anything is
 * rendered for it (recover before provisioning, backup --physical --all): those whose service runs
 * for its profiles, read from the template's text as tenantPieces reads the rendered file. Pure.
 */
export function declaredPieces(template: Pick<Template, 'block' | 'text'>, profiles: readonly string[]): Array<Pick<Piece, 'name' | 'kind'>> {
  const running = new Set(servicesOf(template.text, profiles));
  return Object.entries(template.block.state)
    .map(([name, declaration]) => {
      const kind = Object.keys(declaration)[0] as PieceKind;
      return { name, kind, service: (declaration as Record<string, { service: string }>)[kind]!.service };
    })
    .filter((p) => running.has(p.service))
    .map(({ name, kind }) => ({ name, kind }));
}

function resolvePiece(name: string, declaration: StatePieceDeclaration, mounts: ReturnType<typeof namedVolumeMounts>, values: Record<string, string>): Piece {
  if ('postgres' in declaration) {
    const p = declaration.postgres;
    const database = fillBlockText(p.database, values);
    // Checked again as rendered for this tenant: it goes into SQL (quoted) and must not be cut at 63 bytes.
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(database)) {
      throw new TenantctlError('usage', `state piece ${name}: the database name renders to ${JSON.stringify(database)} for this tenant, not a plain PostgreSQL name of at most 63 characters`);
    }
    return { name, kind: 'postgres', service: p.service, file: `${name}.${pieceExtension.postgres}`, database, user: p.user };
  }
  if ('redis' in declaration) {
    const r = declaration.redis;
    return { name, kind: 'redis', service: r.service, file: `${name}.${pieceExtension.redis}`, passwordSecret: r.passwordSecret, mount: r.dir, entries: ['appendonlydir', 'dump.rdb', 'appendonly.aof'] };
  }
  if ('sqlite' in declaration) {
    const s = declaration.sqlite;
    const holding = volumeHolding(mounts, s.service, s.path);
    if (!holding) throw new TenantctlError('usage', `state piece ${name}: ${s.path} is on no named volume of service ${s.service}`);
    const relative = s.path.slice(holding.target === '/' ? 1 : holding.target.length + 1);
    return {
      name, kind: 'sqlite', service: s.service, file: `${name}.${pieceExtension.sqlite}`, mount: holding.target, via: s.via, path: s.path,
      entries: ['', '-wal', '-shm', '-journal'].map((suffix) => `${relative}${suffix}`),
    };
  }
  const v = declaration.volume;
  return { name, kind: 'volume', service: v.service, file: `${name}.${pieceExtension.volume}`, mount: v.path, entries: '*' };
}

/** The pieces of a tenant on record, from its rendered compose file (the template's state, with its values). */
export function piecesOf(ctx: Pick<Context, 'config'>, template: Pick<Template, 'block' | 'name'>, rendered: string, tenant: TenantValues & { profiles: readonly string[] }): Piece[] {
  return tenantPieces(template, rendered, tenant, hostValuesOf(ctx.config));
}

/** A tenant with no piece for its profiles (every piece's service is off) has nothing to back up: exit 2. */
export function requirePieces(pieces: readonly Piece[], id: string, verb: string, templateName: string, profiles: readonly string[]): void {
  if (pieces.length === 0) {
    throw new TenantctlError('usage', `${id} cannot ${verb}: its template ${templateName} declares no state for the services it runs (profiles: ${profiles.join(', ') || 'none'})`);
  }
}

/** A template that declares no state cannot be backed up, restored, moved or cloned: exit 2 with what to add. */
export function requireState(block: Pick<TemplateBlock, 'state'>, id: string, verb: string, templateName: string): void {
  if (Object.keys(block.state).length === 0) {
    throw new TenantctlError('usage', `${id} cannot ${verb}: its template ${templateName} declares no state (x-tenantctl.state: which databases, Redis, SQLite files or volumes hold its data; docs/templates.md)`);
  }
}

/**
 * The container of a piece's service (running or not) and the volume holding a file kind's data, as
 * Docker has them now. A service with no container (a swarm service scaled to 0 while a restore
 * swaps its files) is described by its definition: not running, its image and volumes.
 */
export async function pieceContainer(ctx: Context, project: string, piece: Piece, runtime?: TenantRuntime): Promise<{ id: string; running: boolean; imageId: string; image: string; volume?: string }> {
  const container = await stackContainer(ctx.dockerHost, project, piece.service, ctx.signal);
  const defined = container ? undefined : await runtime?.definedMounts(piece.service, ctx.signal);
  if (!container && !defined) throw new TenantctlError('conflict', `${project} has no ${piece.service} container for its state piece ${piece.name} (tenantctl status)`);
  const volumes = container?.volumes ?? defined!.volumes;
  const volume = piece.mount === undefined ? undefined : volumes[piece.mount];
  if (piece.mount !== undefined && !volume) throw new TenantctlError('conflict', `the ${piece.service} service of ${project} has no volume at ${piece.mount} (state piece ${piece.name})`);
  if (container) return { id: container.id, running: container.running, imageId: container.imageId, image: container.image, volume };
  return { id: '', running: false, imageId: defined!.image, image: defined!.image, volume };
}
