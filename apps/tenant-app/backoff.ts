// How long to wait before trying PostgreSQL or Redis again after a failure.
//
// While the tenant's stack is starting, the services this process needs come up within seconds of
// it. A plain doubling backoff (200 ms, 400 ms, 800 ms, 1.6 s ...) then answers up to a whole
// doubled delay after they do, and a provision waits on exactly that (tenantctl's readiness
// probes wait for the app's /api/ready and the worker's first heartbeat). So for the first
// `startupWindowMs` of the process the delay stays at `startupRetryMs`; after that it starts at
// `retryMinMs` and doubles up to the cap, so a service that is down for long costs almost nothing.
// A refused connection to a container on the same network is cheap: ten tries a second for the
// second or so PostgreSQL takes to start is not load.

export const startupRetryMs = 100;
export const retryMinMs = 200;
export const retryMaxMs = 5_000;
export const startupWindowMs = 30_000;

const processStartedAt = Date.now();

export function inStartupWindow(now = Date.now(), startedAt = processStartedAt): boolean {
  return now - startedAt < startupWindowMs;
}

/** The delay after a failed try whose delay was `previousMs` (undefined: the first failure). */
export function nextRetryDelay(previousMs: number | undefined, now = Date.now(), startedAt = processStartedAt): number {
  if (inStartupWindow(now, startedAt)) return startupRetryMs;
  if (previousMs === undefined) return retryMinMs;
  return Math.min(previousMs * 2, retryMaxMs);
}
