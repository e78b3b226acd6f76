import path from 'node:path';
import os from 'node:os';
import { createHash } from 'node:crypto';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { TenantctlError } from '../common/errors.js';
import { packageRoot } from '../common/paths.js';
import { agentImageBuildTimeoutMs } from '../common/timeouts.js';
import type { DockerHost } from '../engine/docker-host.js';
import { imagePackageRoot } from './layout.js';
import { ignoreFailure } from '../common/ignore-failure.js';

// The agent runs tenantctl's own code: the CLI bundle this tenantctl runs from, copied into an
// image on top of agent.baseImage (node, the docker CLI, compose v2: images/agent, built by
// scripts/build-images.sh), tagged by the bundle's content hash. Copied, not bind-mounted: the
// running agent loads commands' chunks lazily, and an upgrade of the installation under a running
// process would hand it chunks of another build. `agent up` with a new bundle builds a new tag, and
// compose recreates the container because its image changed.

/** What of the package the agent needs at run time (no node_modules: the bundle holds its dependencies). */
const shipped = ['package.json', 'bin/tenantctl.js', 'dist/cli.js', 'dist/chunks', 'scripts/init-admin-db.sql', 'scripts/admin-migrations', 'templates'];

async function filesUnder(root: string, relative: string): Promise<string[]> {
  const full = path.join(root, relative);
  const entries = await readdir(full, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOTDIR') return undefined;
    throw error;
  });
  if (!entries) return [relative];
  const nested = await Promise.all(entries.map((e) => filesUnder(root, path.join(relative, e.name))));
  return nested.flat();
}

/** The bundle's files and their content hash (with the base image's id: a rebuilt base is a new image too). */
async function bundleHash(baseImageId: string): Promise<string> {
  const hash = createHash('sha256').update(`base ${baseImageId}\n`);
  for (const item of shipped) {
    for (const file of (await filesUnder(packageRoot, item)).sort()) {
      hash.update(`${file}\n`).update(await readFile(path.join(packageRoot, file)));
    }
  }
  return hash.digest('hex').slice(0, 16);
}

/**
 * Removes agent images of earlier bundles that no container uses (running or stopped). Only those
 * older than ten minutes: another `agent up` may have built one a moment ago and not yet started it.
 * Best effort: an image left is only disk.
 */
export async function pruneOldAgentImages(host: DockerHost, keepTag: string): Promise<void> {
  // Never this bundle's own image: another `agent up` of the same build may have found it present
  // and not yet started its container from it (two projects, or two test lanes, on one engine).
  const keep = `label!=tenantctl.agent-bundle=${keepTag.split(':')[1]}`;
  await host.run(['docker', 'image', 'prune', '-a', '-f', '--filter', 'label=tenantctl.agent-bundle', '--filter', keep, '--filter', 'until=10m'], { timeoutMs: agentImageBuildTimeoutMs }).catch(ignoreFailure('best effort: an old image left behind is only disk'));
}

/** The agent's image for this bundle (built when missing); its tag. */
export async function ensureAgentImage(host: DockerHost, baseImage: string, signal?: AbortSignal): Promise<string> {
  const baseId = (await host.docker(['image', 'inspect', '--format', '{{.Id}}', baseImage], { signal }).catch((error) => {
    throw new TenantctlError('docker', `the agent's base image ${baseImage} is missing (${(error as Error).message}): build it with scripts/build-images.sh, or set agent.baseImage (TENANTCTL_AGENT_BASE_IMAGE)`, { cause: error });
  })).trim();
  for (const item of ['dist/cli.js', 'dist/chunks']) {
    await readdir(path.dirname(path.join(packageRoot, item))).catch(() => {
      throw new TenantctlError('usage', `${path.join(packageRoot, item)} is missing: the agent runs the CLI bundle; run npm run build`);
    });
  }
  const tag = `tenantctl/agent:${await bundleHash(baseId)}`;
  const present = await host.run(['docker', 'image', 'inspect', '--format', '{{.Id}}', tag], { timeoutMs: agentImageBuildTimeoutMs, signal });
  if (present.exitCode === 0) return tag;

  const context = await mkdtemp(path.join(os.tmpdir(), 'tenantctl-agent-image-'));
  try {
    for (const item of shipped) await cp(path.join(packageRoot, item), path.join(context, 'tenantctl', item), { recursive: true });
    await writeFile(path.join(context, 'Dockerfile'), [
      '# Written by tenantctl agent up (src/agent/image.ts): the CLI bundle on the agent base image.',
      `FROM ${baseImage}`,
      `COPY tenantctl ${imagePackageRoot}`,
      `RUN node --check ${imagePackageRoot}/dist/cli.js && chmod -R a+rX ${imagePackageRoot}`,
      'ENTRYPOINT ["/usr/bin/tini", "--"]',
      `CMD ["node", "${imagePackageRoot}/bin/tenantctl.js", "agent", "run"]`,
      '',
    ].join('\n'));
    const built = await host.run(['docker', 'build', '-q', '--label', `tenantctl.agent-bundle=${tag.split(':')[1]}`, '-t', tag, context], { timeoutMs: agentImageBuildTimeoutMs, signal });
    if (built.cancelled) throw new TenantctlError('interrupted', 'building the agent\'s image was cancelled');
    if (built.timedOut) throw new TenantctlError('docker', `building the agent's image did not finish within ${agentImageBuildTimeoutMs / 1000} s`);
    if (built.exitCode !== 0) throw new TenantctlError('docker', `building the agent's image failed: ${built.stderrTail.trim().split('\n').slice(-2).join(' | ')}`);
  } finally {
    await rm(context, { recursive: true, force: true });
  }
  return tag;
}
