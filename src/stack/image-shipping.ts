import { spawn } from 'node:child_process';
import { TenantctlError, messageOf } from '../common/errors.js';
import { imageShipTimeoutMs } from '../common/timeouts.js';
import type { DockerHost } from './docker-host.js';

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
export async function ensureImages(target: DockerHost, source: DockerHost, images: readonly string[], { signal }: { signal?: AbortSignal } = {}): Promise<ShippedImages> {
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
async function imageIds(host: DockerHost, signal?: AbortSignal): Promise<Map<string, string>> {
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

/** `docker save` on one host streamed into `docker load` on the other; the bytes that crossed. */
function pipeSaveToLoad(source: DockerHost, target: DockerHost, images: string[], signal?: AbortSignal): Promise<number> {
  return new Promise((resolve, reject) => {
    const save = spawn('docker', ['save', ...images], { env: { ...process.env, ...source.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const load = spawn('docker', ['load', '-q'], { env: { ...process.env, ...target.env }, stdio: ['pipe', 'ignore', 'pipe'] });
    let bytes = 0;
    let saveError = '';
    let loadError = '';
    let failure: TenantctlError | undefined;
    const fail = (error: TenantctlError) => {
      failure ??= error;
      save.kill('SIGKILL');
      load.kill('SIGKILL');
    };
    const timer = setTimeout(() => fail(new TenantctlError('docker', `copying ${images.join(', ')} to ${target.id} did not finish within ${Math.round(imageShipTimeoutMs / 60_000)} min`)), imageShipTimeoutMs);
    const onAbort = () => fail(new TenantctlError('interrupted', `copying images to ${target.id} was cancelled`));
    signal?.addEventListener('abort', onAbort, { once: true });
    save.stdout.on('data', (chunk: Buffer) => (bytes += chunk.length));
    save.stdout.pipe(load.stdin);
    load.stdin.on('error', () => {}); // a load that died early: its own exit says why
    save.stderr.on('data', (chunk: Buffer) => (saveError = (saveError + chunk.toString()).slice(-2000)));
    load.stderr.on('data', (chunk: Buffer) => (loadError = (loadError + chunk.toString()).slice(-2000)));
    const exits = [save, load].map((child) => new Promise<number | null>((done) => { child.on('error', () => done(-1)); child.on('close', (code) => done(code)); }));
    Promise.all(exits).then(([saveCode, loadCode]) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (failure) return reject(failure);
      if (saveCode !== 0) return reject(new TenantctlError('docker', `docker save of ${images.join(', ')} on ${source.id} failed: ${lastLine(saveError)}`));
      if (loadCode !== 0) return reject(new TenantctlError('docker', `docker load on ${target.id} failed: ${lastLine(loadError)}`));
      resolve(bytes);
    }, (error) => reject(new TenantctlError('docker', `copying images to ${target.id}: ${messageOf(error)}`)));
  });
}

const lastLine = (text: string) => text.trim().split('\n').pop() || 'no message';
