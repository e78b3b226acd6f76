import type { Context } from '../context.js';
import type { DockerHost } from '../engine/docker-host.js';
import { postgresVersionOf } from '../engine/docker.js';
import { configuredTemplate, hostValuesOf } from '../templates/configured.js';
import { sampleRender } from '../templates/validate.js';
import { messageOf } from '../common/errors.js';

// A physical backup's cluster starts only under its own PostgreSQL major. Where no server of the
// tenant runs yet (recover, restore --as of a backup whose source is stopped or gone), the major to
// compare with is the one of the image the template runs for the backup's PostgreSQL service:
// `postgres --version` in a throwaway container of it (no network, never pulled, tmpfs over its
// VOLUMEs so it leaves no anonymous volume), as upgrade asks. Asked before anything is made; the
// staged PG_VERSION is compared with the new volume's again before the swap (restore-to-time.ts).

export interface ImageMajor {
  image: string;
  /** undefined: the image could not be run here (not on the host yet: provision ships it); `why` says so. */
  major?: number;
  why?: string;
}

/** The image `template` renders for `service`, with this environment's image settings. */
export async function templateServiceImage(ctx: Pick<Context, 'config'>, templateName: string, service: string): Promise<string | undefined> {
  const template = await configuredTemplate(ctx.config, templateName);
  const services = sampleRender(template, hostValuesOf(ctx.config)).tree.services as Record<string, { image?: unknown }> | undefined;
  const image = services?.[service]?.image;
  return typeof image === 'string' && image !== '' ? image : undefined;
}

/** The PostgreSQL major of `image` on `host` (its `postgres --version`). */
export async function imageMajor(ctx: Pick<Context, 'signal'>, host: DockerHost, image: string): Promise<ImageMajor> {
  try {
    const out = await postgresVersionOf(host, image, ctx.signal, ['--pull', 'never', '--label', 'tenantctl.helper=image-major']);
    const major = Number(/\(PostgreSQL\)\s+(\d+)/.exec(out)?.[1] ?? /(\d+)(?:\.\d+)?/.exec(out)?.[1]);
    return Number.isInteger(major) && major > 0 ? { image, major } : { image, why: `postgres --version printed ${JSON.stringify(out.trim().slice(0, 80))}` };
  } catch (error) {
    return { image, why: messageOf(error) };
  }
}

/**
 * Why a cluster of PostgreSQL `backupMajor` cannot start on the image (undefined: it can, or the
 * image's major is not known here and the staged check decides).
 */
export function majorMismatch(backup: string, backupMajor: number | undefined, backupImage: string | undefined, runs: ImageMajor, where: string): string | undefined {
  if (backupMajor === undefined || runs.major === undefined || runs.major === backupMajor) return undefined;
  return `physical backup ${backup} is a PostgreSQL ${backupMajor} cluster and ${where} runs image ${runs.image}, PostgreSQL ${runs.major}: a cluster starts only under its own major version (restore a logical backup, or run an image of PostgreSQL ${backupMajor}${backupImage ? ` such as the backup's ${backupImage}` : ''}, e.g. TENANTCTL_POSTGRES_IMAGE)`;
}
