import http from 'node:http';
import path from 'node:path';
import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { EngineApi } from '../../src/engine/engine-api.js';
import { inspectContainers } from '../../src/engine/docker.js';
import type { DockerHost } from '../../src/engine/docker-host.js';
import { tempDir } from './temp-dirs.js';

// The watch inspects every container started since its last pass in one go, and the metrics sample
// every running container's stats at once, each with the pass's (or the agent's) signal. A listener
// per request in flight put 11 and more 'abort' listeners on one signal (MaxListenersExceededWarning
// in the agent's and the watch's logs). A batch must hold one, however many requests it runs.

/** A stand-in engine on a unix socket that answers each GET after `delayMs`, and notes how many abort listeners the caller's signal held when each request arrived. */
async function slowEngine(delayMs: number, signal: AbortSignal) {
  const dir = tempDir('tct-engine-api-');
  const socketPath = path.join(dir, 'engine.sock');
  const seen: number[] = [];
  const server = http.createServer((request, response) => {
    seen.push(getEventListeners(signal, 'abort').length);
    const id = (request.url ?? '').split('/')[2] ?? '';
    const timer = setTimeout(() => response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ Id: `${id}000000`, Name: `/${id}`, State: { Status: 'running' }, Config: { Labels: {} } })), delayMs);
    response.on('close', () => clearTimeout(timer));
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return { socketPath, seen, close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }) };
}

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

describe('engine API batches and the caller\'s abort signal', () => {
  it('inspecting 24 containers at once holds one abort listener on the signal, none after', async () => {
    const controller = new AbortController();
    const engine = await slowEngine(50, controller.signal);
    closers.push(engine.close);
    const host = { api: new EngineApi(engine.socketPath) } as unknown as DockerHost;
    const ids = Array.from({ length: 24 }, (_, i) => `c${String(i).padStart(11, '0')}`);
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    try {
      const inspected = await inspectContainers(host, ids, controller.signal);
      expect(inspected?.map((c) => c.name)).toEqual(ids);
    } finally {
      process.off('warning', onWarning);
    }
    expect(engine.seen).toHaveLength(24);
    expect(Math.max(...engine.seen)).toBe(1);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    expect(warnings).not.toContain('MaxListenersExceededWarning');
  });

  it('an abort ends every request of the batch in flight, as interrupted', async () => {
    const controller = new AbortController();
    const engine = await slowEngine(10_000, controller.signal);
    closers.push(engine.close);
    const api = new EngineApi(engine.socketPath);
    const started = Date.now();
    const batch = api.getAll(['/containers/a/json', '/containers/b/json', '/containers/c/json'], { signal: controller.signal, timeoutMs: 30_000 });
    setTimeout(() => controller.abort(), 100);
    const answers = await batch;
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(answers.map((a) => a.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(answers.map((a) => (a as PromiseRejectedResult).reason.message)).toEqual(['/containers/a/json', '/containers/b/json', '/containers/c/json'].map((p) => `docker API GET ${p} was cancelled`));
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });
});
