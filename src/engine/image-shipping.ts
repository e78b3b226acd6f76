import { TenantctlError } from '../common/errors.js';
import { imageShipTimeoutMs, killGraceMs } from '../common/timeouts.js';
import type { EngineConnection } from './connection.js';
import { childEnvironment } from '../common/child-env.js';

export interface ShippedImages {
  /** Images that were missing or different on the target and were copied. */
  shipped: string[];
  /** Images the target already had with the same image id. */
  present: string[];
  bytes: number;
}

/**
 * Makes `images` on `target` the same images (by image id) as on `source`: the missing or
 * different ones go in one `docker save` on the source piped into `docker load` on the target,
 * so layers shared between them cross once. No registry is needed: how an operator without one
 * (or an air-gapped fleet) places tenantctl's images on a new host.
 */
export async function ensureImages(target: EngineConnection, source: EngineConnection, images: readonly string[], { signal }: { signal?: AbortSignal } = {}): Promise<ShippedImages> {
  const wanted = [...new Set(images)];
  const [here, there] = await Promise.all([imageIds(source, signal), imageIds(target, signal)]);
  const missingHere = wanted.filter((image) => !here.has(normalise(image)));
  if (missingHere.length > 0) {
    throw new TenantctlError('docker', `image ${missingHere.join(', ')} is not on ${source.id} either, so it cannot be copied to ${target.id}; build the defaults with scripts/build-images.sh`);
  }
  const toShip = wanted.filter((image) => there.get(normalise(image)) !== here.get(normalise(image)));
  if (toShip.length === 0) return { shipped: [], present: wanted, bytes: 0 };
  await Promise.all([source.connect(), target.connect()]);
  const bytes = await pipeSaveToLoad(source, target, toShip, signal);
  return { shipped: toShip, present: wanted.filter((image) => !toShip.includes(image)), bytes };
}

/** repository:tag -> image id, as the engine lists them. */
async function imageIds(host: EngineConnection, signal?: AbortSignal): Promise<Map<string, string>> {
  const out = await host.docker(['image', 'ls', '--no-trunc', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}'], { signal });
  const ids = new Map<string, string>();
  for (const line of out.split('\n')) {
    const [reference, id] = line.trim().split(' ');
    if (reference && id && !reference.includes('<none>')) ids.set(reference, id);
  }
  return ids;
}

/** A reference as `image ls` prints it: the tag defaults to latest; Docker Hub's library/ prefix is not shown. */
function normalise(image: string): string {
  const withoutRegistry = image.replace(/^docker\.io\/(library\/)?/, '');
  return /:[^/]+$/.test(withoutRegistry) ? withoutRegistry : `${withoutRegistry}:latest`;
}

/**
 * `docker save` on one host streamed into `docker load` on the other; the bytes that crossed. Both
 * children get what run() gives one (src/common/exec.ts): the host's variables over the scrubbed
 * environment (common/child-env.ts), the timeout, the caller's signal, SIGTERM and then SIGKILL after killGraceMs.
 */
async function pipeSaveToLoad(source: EngineConnection, target: EngineConnection, images: string[], signal?: AbortSignal): Promise<number> {
  const { execa } = await import('execa');
  const options = { reject: false, timeout: imageShipTimeoutMs, cancelSignal: signal, extendEnv: false, forceKillAfterDelay: killGraceMs, buffer: false } as const;
  const save = execa('docker', ['save', ...images], { ...options, env: childEnvironment(source.env), stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' });
  const load = execa('docker', ['load', '-q'], { ...options, env: childEnvironment(target.env), stdin: 'pipe', stdout: 'ignore', stderr: 'pipe' });
  let bytes = 0;
  let saveError = '';
  let loadError = '';
  save.stdout.on('data', (chunk: Buffer) => (bytes += chunk.length));
  save.stdout.pipe(load.stdin);
  load.stdin.on('error', () => {}); // a load that died early: its own exit says why
  save.stderr.on('data', (chunk: Buffer) => (saveError = (saveError + chunk.toString()).slice(-2000)));
  load.stderr.on('data', (chunk: Buffer) => (loadError = (loadError + chunk.toString()).slice(-2000)));
  // One side failing stops the other (a save whose reader is gone would wait for the timeout);
  // the side that failed first is the one to report.
  let firstFailed: 'save' | 'load' | undefined;
  const stopOnFailure = (side: 'save' | 'load', other: { kill: () => boolean }) => <R extends { failed: boolean }>(result: R): R => {
    if (result.failed) {
      firstFailed ??= side;
      other.kill(); // SIGTERM, then SIGKILL after killGraceMs (forceKillAfterDelay)
    }
    return result;
  };
  const [saved, loaded] = await Promise.all([save.then(stopOnFailure('save', load)), load.then(stopOnFailure('load', save))]);
  if (saved.isCanceled || loaded.isCanceled) throw new TenantctlError('interrupted', `copying images to ${target.id} was cancelled`);
  if (saved.timedOut || loaded.timedOut) throw new TenantctlError('docker', `copying ${images.join(', ')} to ${target.id} did not finish within ${Math.round(imageShipTimeoutMs / 60_000)} min`);
  const why = (result: typeof saved, stderr: string) => (result.exitCode === undefined && !stderr ? result.shortMessage : lastLine(stderr));
  if (firstFailed === 'save') throw new TenantctlError('docker', `docker save of ${images.join(', ')} on ${source.id} failed: ${why(saved, saveError)}`);
  if (firstFailed === 'load') throw new TenantctlError('docker', `docker load on ${target.id} failed: ${why(loaded, loadError)}`);
  return bytes;
}

const lastLine = (text: string) => text.trim().split('\n').pop() || 'no message';
