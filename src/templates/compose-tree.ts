// Pure: questions about a parsed compose document that more than one rewrite of it asks (the
// remote-engine file, stack/remote-compose.ts; the swarm stack, swarm/swarm-render.ts and
// swarm/swarm-stack.ts). One answer each, so the file shipped to a remote engine and the stack
// agree on what is a bind mount. Here, beside volume-mounts.ts, rather than with either runtime:
// both use it.
import path from 'node:path';
import { isRecord } from './render-compose.js';

/**
 * A bind mount whose source is relative to the compose file, as compose resolves it:
 * short syntax only with an explicit ./ or ../ (or "."), since `initdb:/x` names a volume;
 * long syntax (`type: bind`) whenever the source is not absolute, `source: initdb` included.
 * The source is returned as written.
 */
export function relativeBind(mount: unknown): { source: string; target: string } | undefined {
  if (typeof mount === 'string') {
    const [source, target] = mount.split(':');
    return source && target && (source === '.' || source.startsWith('./') || source.startsWith('../')) ? { source, target } : undefined;
  }
  if (isRecord(mount) && mount.type === 'bind' && typeof mount.source === 'string' && mount.source !== '' && typeof mount.target === 'string' && !path.isAbsolute(mount.source)) {
    return { source: mount.source, target: mount.target };
  }
  return undefined;
}

/** Every relative bind mount of every service, in file order. */
export function relativeBindsOf(tree: unknown): Array<{ service: string; source: string; target: string }> {
  if (!isRecord(tree) || !isRecord(tree.services)) return [];
  return Object.entries(tree.services).flatMap(([service, definition]) =>
    isRecord(definition) && Array.isArray(definition.volumes)
      ? definition.volumes.flatMap((mount) => {
          const bind = relativeBind(mount);
          return bind ? [{ service, ...bind }] : [];
        })
      : [],
  );
}

/** The labels tenantctl's objects carry (taken from the file's volumes or networks), for objects the rewrite adds. */
export function labelsOf(tree: Record<string, unknown>): Record<string, string> | undefined {
  for (const group of [tree.volumes, tree.networks]) {
    if (!isRecord(group)) continue;
    for (const definition of Object.values(group)) if (isRecord(definition) && isRecord(definition.labels)) return definition.labels as Record<string, string>;
  }
  return undefined;
}
