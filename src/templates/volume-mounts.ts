import { isRecord } from './render-compose.js';

// Where a rendered compose file mounts its named volumes: what the tenant's data is in. Pure, on
// the parsed file. Used to check that a state piece's path is on a volume (validate.ts), to find a
// piece's volume (backups), and to refuse an upgrade that would stop mounting one (upgrades).

export interface NamedMount {
  service: string;
  /** Where it is mounted in the container. */
  target: string;
  /** The top-level `volumes:` key, and the volume's own name (its `name:`, else the key). */
  key: string;
  name: string;
}

/** Every named volume (declared at the top level) each service mounts; binds and anonymous volumes are not. */
export function namedVolumeMounts(tree: Record<string, unknown>): NamedMount[] {
  const declared = isRecord(tree.volumes) ? tree.volumes : {};
  const services = isRecord(tree.services) ? tree.services : {};
  const mounts: NamedMount[] = [];
  for (const [service, definition] of Object.entries(services)) {
    const volumes = isRecord(definition) && Array.isArray(definition.volumes) ? definition.volumes : [];
    for (const mount of volumes) {
      let source: string | undefined;
      let target: string | undefined;
      if (typeof mount === 'string') {
        [source, target] = mount.split(':');
      } else if (isRecord(mount) && (mount.type ?? 'volume') === 'volume') {
        source = typeof mount.source === 'string' ? mount.source : undefined;
        target = typeof mount.target === 'string' ? mount.target : undefined;
      }
      if (!source || !target || !(source in declared)) continue;
      const entry = declared[source];
      const name = isRecord(entry) && typeof entry.name === 'string' ? entry.name : source;
      mounts.push({ service, target: target.replace(/\/+$/, '') || '/', key: source, name });
    }
  }
  return mounts;
}

/** The named volume of `service` that holds `path` (its mount point is the path or a folder above it), the deepest one. */
export function volumeHolding(mounts: readonly NamedMount[], service: string, path: string): NamedMount | undefined {
  return mounts
    .filter((m) => m.service === service && (path === m.target || path.startsWith(`${m.target === '/' ? '' : m.target}/`)))
    .sort((a, b) => b.target.length - a.target.length)[0];
}
