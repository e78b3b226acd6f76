import type { DockerHost } from '../engine/docker-host.js';
import { TenantctlError } from '../common/errors.js';

// Per-tenant image tags that keep the image ids a tenant's last good state ran reachable, whatever
// happens to their tags (a rebuilt :latest, a prune): upgrade's rollback runs them (upgrades/).
// They belong to the tenant's compose project, and go with its stack (removal.ts): a tag left behind
// would keep an old image on the host for nobody.

/** tenantctl-rollback:<compose project>-<service> (projects are unique on a host). */
export const pinTag = (project: string, service: string) => `tenantctl-rollback:${project}-${service}`;

/** Removes the project's pin tags (the images stay while anything else uses or names them). */
export async function removePins(host: DockerHost, project: string): Promise<void> {
  const out = await host.docker(['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}', '--filter', `reference=${pinTag(project, '*')}`]);
  for (const tag of out.split('\n').map((l) => l.trim()).filter(Boolean)) {
    try {
      await host.docker(['image', 'rm', '--no-prune', tag]);
    } catch (error) {
      // Only the tag is asked to go: an image still in use by a container keeps it, which is what it is for.
      if (!(error instanceof TenantctlError && /being used|conflict/i.test(error.message))) throw error;
    }
  }
}
