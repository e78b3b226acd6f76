import { readFile, stat } from 'node:fs/promises';
import { parse } from 'yaml';
import { servicesOf } from '../tenants/day2-target.js';
import { tenantPaths } from '../tenants/files.js';
import { expectedServicesOf, type ExpectedService } from './classify.js';

// The services a tenant should have running: those its rendered compose file declares under its
// active profiles, found as the restart verb finds them (servicesOf), not learned from what a pass
// happened to see. A file that is gone or unreadable gives undefined, and the pass judges the
// containers it sees.
//
// Kept per file while the file is unchanged (its mtime, ctime, size and inode, one stat() per pass):
// parsing a rendered compose file (about 11 KB, twice: here and in servicesOf) costs 4-8 ms of CPU
// on a loaded 2-core host, which at 100 tenants every 15 s was 3-5% of a core for the agent's
// watch alone (and as much again per /metrics scrape), against issue 22's 1% for the whole agent.

interface Parsed {
  stamp: string;
  profiles: string;
  services: ExpectedService[];
}

const parsed = new Map<string, Parsed>();

export async function expectedServices(customersDir: string, id: string, profiles: readonly string[]): Promise<ExpectedService[] | undefined> {
  const file = tenantPaths(customersDir, id).composeFile;
  let stamp: string;
  try {
    const s = await stat(file);
    stamp = `${s.mtimeMs}:${s.ctimeMs}:${s.size}:${s.ino}`;
  } catch {
    parsed.delete(file);
    return undefined;
  }
  const key = profiles.join(',');
  const known = parsed.get(file);
  if (known && known.stamp === stamp && known.profiles === key) return known.services;
  let rendered: string;
  try {
    rendered = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const tree = (parse(rendered, { merge: true, maxAliasCount: -1 }) ?? {}) as { services?: Record<string, { restart?: unknown } | null> };
    const services = expectedServicesOf(tree.services ?? {}, servicesOf(rendered, profiles));
    parsed.set(file, { stamp, profiles: key, services });
    return services;
  } catch {
    parsed.delete(file);
    return undefined;
  }
}
