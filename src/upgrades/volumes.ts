import { parse } from 'yaml';

// What an upgrade must not do to a tenant's data: stop mounting a named volume where a service had
// it. A render that renames a volume, drops it, or mounts it elsewhere would bring the stack up on
// new, empty volumes, and readiness would call that tenant ready. Pure: two rendered compose files in,
// the mounts the second one loses out.

interface ComposeFile {
  services?: Record<string, { volumes?: Array<string | { type?: string; source?: string; target?: string }> }>;
  volumes?: Record<string, { name?: string; external?: boolean } | null>;
}

/** "service at path -> volume" for every named volume a service mounts (the volume by its Docker name within the project). */
function namedMounts(rendered: string): Map<string, string> {
  const file = (parse(rendered, { merge: true, maxAliasCount: -1 }) ?? {}) as ComposeFile;
  const declared = file.volumes ?? {};
  const identity = (key: string) => declared[key]?.name ?? key;
  const mounts = new Map<string, string>();
  for (const [service, definition] of Object.entries(file.services ?? {})) {
    for (const mount of definition?.volumes ?? []) {
      let source: string | undefined;
      let target: string | undefined;
      if (typeof mount === 'string') {
        [source, target] = mount.split(':');
      } else if ((mount.type ?? 'volume') === 'volume') {
        ({ source, target } = mount);
      }
      // Only named volumes declared at the top level hold data by name; binds and anonymous volumes are not compared.
      if (!source || !target || !(source in declared)) continue;
      mounts.set(`${service} at ${target}`, identity(source));
    }
  }
  return mounts;
}

/** The named-volume mounts of `current` that `next` does not have (same service, same path, same volume), described for a message. */
export function droppedVolumes(current: string, next: string): string[] {
  const before = namedMounts(current);
  const after = namedMounts(next);
  return [...before].filter(([where, volume]) => after.get(where) !== volume).map(([where, volume]) => {
    const now = after.get(where);
    return `volume ${volume} (${where}${now ? `, now ${now}` : ''})`;
  });
}
