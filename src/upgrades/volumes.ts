import { parse } from 'yaml';
import { namedVolumeMounts } from '../templates/volume-mounts.js';

// What an upgrade must not do to a tenant's data: stop mounting a named volume where a service had
// it. A render that renames a volume, drops it, or mounts it elsewhere would bring the stack up on
// new, empty volumes, and readiness would call that tenant ready. Pure: two rendered compose files in,
// the mounts the second one loses out.

/** "service at path -> volume" for every named volume a service mounts (the volume by its Docker name within the project). */
function mountsOf(rendered: string): Map<string, string> {
  const tree = (parse(rendered, { merge: true, maxAliasCount: -1 }) ?? {}) as Record<string, unknown>;
  return new Map(namedVolumeMounts(tree).map((m) => [`${m.service} at ${m.target}`, m.name]));
}

/** The named-volume mounts of `current` that `next` does not have (same service, same path, same volume), described for a message. */
export function droppedVolumes(current: string, next: string): string[] {
  const before = mountsOf(current);
  const after = mountsOf(next);
  return [...before].filter(([where, volume]) => after.get(where) !== volume).map(([where, volume]) => {
    const now = after.get(where);
    return `volume ${volume} (${where}${now ? `, now ${now}` : ''})`;
  });
}
