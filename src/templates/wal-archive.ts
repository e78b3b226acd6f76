import { parseDocument } from 'yaml';
import { isRecord, TemplateError } from './render-compose.js';
import type { TemplateBlock } from './block-schema.js';

// Point-in-time recovery (src/pitr/) as it shows in a tenant's compose file: for a tenant whose plan
// has `pitr` on, the PostgreSQL service of the template's one postgres state piece archives every
// finished WAL segment into a volume of its own (`wal-archive`, mounted at /archive), and tenantctl
// ships them from there into the backup repository. Added to the rendered file, not written in the
// template: a tenant without PITR renders exactly as before (no extra volume, no archiver), and any
// template with one postgres piece gets it. The archive command copies to a `.part` name, syncs it
// and renames it, so the shipper (which skips `.part`) never takes a segment half-written, and a
// host crash cannot leave PostgreSQL believing a segment archived that is not on disk. The
// repository password never comes near this container: the tenant's superuser can run programs
// here, so all it can reach is its own archive.

export const walArchiveVolume = 'wal-archive';
/** What an entrypoint that starts as root to copy its secrets and drop to its user needs (docs/templates.md, "Hardening"). */
const rootEntrypointCaps = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETUID', 'SETGID'];
export const walArchiveMount = '/archive';

export interface WalArchiveSettings {
  /** archive_timeout: a segment is closed (and so archived) at least this often while anything is written. */
  archiveTimeoutSeconds: number;
}

/**
 * The archive_command: never overwrites a segment, renames only a copy that is on disk, and syncs
 * the directory after the rename (coreutils `sync DIR` fsyncs it): success tells PostgreSQL it may
 * recycle the segment, so the rename must survive a host crash too.
 */
export const archiveCommand = `test ! -f ${walArchiveMount}/%f && cp %p ${walArchiveMount}/%f.part && sync ${walArchiveMount}/%f.part && mv ${walArchiveMount}/%f.part ${walArchiveMount}/%f && sync ${walArchiveMount}`;

/** The service that runs the template's one postgres state piece, or a refusal naming why PITR cannot apply. */
export function pitrService(block: Pick<TemplateBlock, 'state'>, templateName: string): string {
  const services = Object.values(block.state).flatMap((piece) => ('postgres' in piece ? [piece.postgres.service] : []));
  if (services.length !== 1) throw new TemplateError(`point-in-time recovery needs exactly one postgres state piece, and template ${templateName} declares ${services.length}`);
  return services[0]!;
}

/**
 * The rendered compose file with WAL archiving switched on for `service`: the archive volume
 * (labelled like the service), mounted at /archive and given to the postgres user by a short
 * root step before the image's own entrypoint, and the server started with archive_mode on.
 */
export function withWalArchive(rendered: string, service: string, settings: WalArchiveSettings): string {
  const document = parseDocument(rendered, { merge: true });
  const tree = document.toJS({ maxAliasCount: -1 }) as Record<string, any>;
  const svc = tree.services?.[service];
  if (!isRecord(svc)) throw new TemplateError(`point-in-time recovery: the compose file has no service ${service}`);
  const command = svc.command === undefined ? ['postgres'] : svc.command;
  if (!Array.isArray(command) || command[0] !== 'postgres') {
    throw new TemplateError(`point-in-time recovery: service ${service} runs its own command; it must be absent or a list starting with "postgres"`);
  }
  const archiving = ['-c', 'archive_mode=on', '-c', `archive_command=${archiveCommand}`, '-c', `archive_timeout=${settings.archiveTimeoutSeconds}`];
  // $$: compose reads "$" as interpolation; "$$" is a literal "$".
  const prepare = `chown postgres:postgres ${walArchiveMount} && chmod 0700 ${walArchiveMount} && if [ -x /usr/bin/tini ]; then exec /usr/bin/tini -- docker-entrypoint.sh "$$@"; else exec docker-entrypoint.sh "$$@"; fi`;
  const volumes = Array.isArray(svc.volumes) ? [...svc.volumes] : [];
  volumes.push(`${walArchiveVolume}:${walArchiveMount}`);
  const labels = isRecord(svc.labels) ? svc.labels : {};
  document.setIn(['services', service, 'entrypoint'], document.createNode(['/bin/sh', '-c', prepare, 'pitr-entrypoint']));
  document.setIn(['services', service, 'command'], document.createNode([...command, ...archiving]));
  document.setIn(['services', service, 'volumes'], document.createNode(volumes));
  // The archive volume is new and empty, so Docker makes it root's (the image has no /archive to
  // take an owner from): only root can give it to postgres. So this server starts as root, as
  // before services started as their users: the entrypoint copies its secrets (the operator's
  // files, no per-user copies: templates/secret-copies.ts skips a root service) into a tmpfs for
  // postgres and drops to it, with back only the capabilities that takes.
  if (svc.user !== undefined) document.setIn(['services', service, 'user'], '0:0');
  const caps = Array.isArray(svc.cap_add) ? svc.cap_add.map(String) : [];
  document.setIn(['services', service, 'cap_add'], document.createNode([...new Set([...caps, ...rootEntrypointCaps])]));
  const tmpfs = Array.isArray(svc.tmpfs) ? svc.tmpfs.map(String) : svc.tmpfs === undefined ? [] : [String(svc.tmpfs)];
  if (!tmpfs.some((entry) => entry.split(':')[0] === '/run/tenantctl')) document.setIn(['services', service, 'tmpfs'], document.createNode([...tmpfs, '/run/tenantctl:mode=0700,size=64k']));
  if (!document.hasIn(['volumes'])) document.set('volumes', document.createNode({}));
  document.setIn(['volumes', walArchiveVolume], document.createNode({ labels }));
  return document.toString({ lineWidth: 0 });
}
