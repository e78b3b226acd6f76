import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { servicesOf } from '../tenants/day2-target.js';
import { tenantPaths } from '../tenants/files.js';
import { expectedServicesOf, type ExpectedService } from './classify.js';

// The services a tenant should have running: those its rendered compose file declares under its
// active profiles, found as the restart verb finds them (servicesOf), not learned from what a pass
// happened to see. Read per pass (a few KB per tenant); a file that is gone or unreadable gives
// undefined, and the pass judges the containers it sees.

export async function expectedServices(customersDir: string, id: string, profiles: readonly string[]): Promise<ExpectedService[] | undefined> {
  let rendered: string;
  try {
    rendered = await readFile(tenantPaths(customersDir, id).composeFile, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const tree = (parse(rendered, { merge: true, maxAliasCount: -1 }) ?? {}) as { services?: Record<string, { restart?: unknown } | null> };
    return expectedServicesOf(tree.services ?? {}, servicesOf(rendered, profiles));
  } catch {
    return undefined;
  }
}
