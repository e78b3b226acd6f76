// Pure: what a rendered compose file becomes on a remote engine (tcp://, ssh://). Outside swarm,
// compose turns a relative bind mount (./initdb) and a `secrets: file:` into bind mounts of paths
// on the machine the *engine* runs on, where customers/<id>/ does not exist. So those files travel
// into named volumes on the target (remote-files.ts fills them) and the services mount the volumes
// read-only where they expected the files. Local engines keep the file as it is.
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { labelsOf, relativeBind } from '../templates/compose-tree.js';
import { isRecord } from '../templates/render-compose.js';
import { numericUser } from '../templates/secret-copies.js';

export class RemoteComposeError extends Error {}

/** One volume tenantctl fills on the target before compose up. */
export interface ShippedVolume {
  /** The key under top-level `volumes:`; compose names it <project>_<key>. */
  key: string;
  /** Files to put in it: a local file or directory (copied whole) -> its path inside the volume. */
  entries: Array<{ source: string; target: string; kind: 'file' | 'dir'; /** Forced mode for files (secrets: 0400, readable by their owner only). */ mode?: number }>;
  /** Who owns the volume's folder and files (a non-root service's secrets: its uid); root when absent. */
  owner?: { uid: number; gid: number };
}

export interface RemoteCompose {
  text: string;
  volumes: ShippedVolume[];
  /** An image of the stack to run the filling helper with (it needs sh and tar). */
  helperImage?: string;
}

const secretsMount = '/run/secrets';

/**
 * Rewrites a rendered compose document for a remote engine. `baseDir` is the folder compose
 * resolves relative paths against (customers/<id>/). Absolute bind sources name the target's own
 * paths and are left alone; relative ones are the operator's files and are shipped. What cannot be
 * shipped (a single-file bind mount, an external or environment secret) is refused with the reason.
 */
export function remoteCompose(renderedText: string, baseDir: string): RemoteCompose {
  const tree = parse(renderedText, { merge: true, maxAliasCount: -1 }) as unknown;
  if (!isRecord(tree) || !isRecord(tree.services)) throw new RemoteComposeError('compose file has no services');
  const topSecrets = isRecord(tree.secrets) ? tree.secrets : {};
  const volumes = new Map<string, ShippedVolume>();
  const labels = labelsOf(tree);
  let helperImage: string | undefined;

  for (const [serviceName, service] of Object.entries(tree.services)) {
    if (!isRecord(service)) continue;
    const mounts: unknown[] = Array.isArray(service.volumes) ? [...service.volumes] : [];
    let shipsHere = false;

    // Secrets: the ones this service names, in a volume of its own at /run/secrets (each service
    // still sees only its own secrets, as with compose's file secrets).
    if (Array.isArray(service.secrets) && service.secrets.length > 0) {
      const key = `tenantctl-secrets-${serviceName}`;
      const entries: ShippedVolume['entries'] = [];
      for (const reference of service.secrets) {
        const source = typeof reference === 'string' ? reference : isRecord(reference) ? String(reference.source ?? '') : '';
        const target = isRecord(reference) && typeof reference.target === 'string' ? reference.target : source;
        const definition = topSecrets[source];
        if (!isRecord(definition) || typeof definition.file !== 'string') {
          throw new RemoteComposeError(`service ${serviceName}: secret ${source} is not a file secret, which is the only kind tenantctl ships to a remote engine`);
        }
        if (target.includes('/') && !target.startsWith(`${secretsMount}/`)) {
          throw new RemoteComposeError(`service ${serviceName}: secret ${source} targets ${target}; on a remote engine secrets can only go under ${secretsMount}`);
        }
        entries.push({ source: path.resolve(baseDir, definition.file), target: path.posix.basename(target), kind: 'file', mode: 0o400 });
      }
      // A service that starts as its own user owns its secrets (templates/secret-copies.ts): the
      // volume holds that user's copies, owned by it, 0400, as on a local engine.
      const owner = numericUser(service.user);
      volumes.set(key, { key, entries, ...(owner ? { owner } : {}) });
      mounts.push(`${key}:${secretsMount}:ro`);
      delete service.secrets;
      shipsHere = true;
    }

    // Relative bind mounts: the directory travels into a volume of its own.
    service.volumes = mounts.map((mount) => {
      const bind = relativeBind(mount);
      if (!bind) return mount;
      const local = path.resolve(baseDir, bind.source);
      const key = `tenantctl-files-${path.relative(baseDir, local).replace(/[^A-Za-z0-9]+/g, '-').replace(/^-+|-+$/g, '') || 'root'}`;
      if (!volumes.has(key)) volumes.set(key, { key, entries: [{ source: local, target: '.', kind: 'dir' }] });
      shipsHere = true;
      return `${key}:${bind.target}:ro`;
    });
    if ((service.volumes as unknown[]).length === 0) delete service.volumes;
    if (shipsHere && !helperImage && typeof service.image === 'string') helperImage = service.image;
  }

  if (volumes.size > 0) {
    const declared = isRecord(tree.volumes) ? tree.volumes : {};
    for (const key of volumes.keys()) declared[key] = labels ? { labels } : {};
    tree.volumes = declared;
  }
  // Every secret was a file secret handed to services above (anything else was refused).
  delete tree.secrets;
  // YAML 1.1 quoting: yes/no/on/off stay strings for compose v1 (PyYAML reads YAML 1.1).
  return { text: stringify(tree, { version: '1.1', lineWidth: 0, aliasDuplicateObjects: false }), volumes: [...volumes.values()], helperImage };
}
