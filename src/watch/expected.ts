import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { servicesOf } from '../tenants/day2-target.js';
import { tenantPaths } from '../tenants/files.js';
import { expectedServicesOf, type ExpectedService } from './classify.js';

// The services a tenant should have running: those its rendered compose file declares under its
// active profiles, found as the restart verb finds them (servicesOf), not learned from what a pass
// happened to see. A file that is gone or unreadable gives undefined, and the pass judges the
// containers it sees.
//
// Kept per file while its content is unchanged (a SHA-1 of the file read each pass, microseconds for
// 11 KB; a stat's mtime, ctime, size and inode can miss a same-size rewrite in place within one
// timestamp tick, and would keep a stale parse):
// parsing a rendered compose file (about 11 KB, twice: here and in servicesOf) costs 4-8 ms of CPU
// on a loaded 2-core host, which at 100 tenants every 15 s was 3-5% of a core for the agent's
// watch alone (and as much again per /metrics scrape), against issue 22's 1% for the whole agent.

interface Parsed {
  digest: string;
  profiles: string;
  services: ExpectedService[];
}

const parsed = new Map<string, Parsed>();

export async function expectedServices(customersDir: string, id: string, profiles: readonly string[]): Promise<ExpectedService[] | undefined> {
  const file = tenantPaths(customersDir, id).composeFile;
  let rendered: string;
  try {
    rendered = await readFile(file, 'utf8');
  } catch {
    parsed.delete(file);
    return undefined;
  }
  const digest = createHash('sha1').update(rendered).digest('hex');
  const key = profiles.join(',');
  const known = parsed.get(file);
  if (known && known.digest === digest && known.profiles === key) return known.services;
  try {
    const tree = (parse(rendered, { merge: true, maxAliasCount: -1 }) ?? {}) as { services?: Record<string, { restart?: unknown } | null> };
    const services = expectedServicesOf(tree.services ?? {}, servicesOf(rendered, profiles));
    parsed.set(file, { digest, profiles: key, services });
    return services;
  } catch {
    parsed.delete(file);
    return undefined;
  }
}
