// A busy Docker engine, on purpose: a unix socket in front of the real engine's that stalls for a
// while from a chosen request that changes something (creating or starting a container, a network,
// a volume): that request and every other changing one sent during the stall reach the engine only
// when it ends. A tenantctl pointed at it can be killed at a known moment of `compose up`, while
// compose waits on the engine. As Docker does with a create or a start it has received, a request
// is carried out even when its client has gone away meanwhile (its connection to the engine is
// kept until the engine answers): killing the compose that sent it does not undo it.
import net from 'node:net';
import { rmSync } from 'node:fs';

export interface SlowEngine {
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * Stalls for `stallMs` from the `nth` (1-based) changing request counted from now; resolves with
   * its request line once it is held (compose is then waiting on the engine).
   */
  stallAt(nth: number, stallMs: number): Promise<string>;
}

/** Creating, starting or removing something: what compose changes the host with. */
const changingRequest = /^(POST|PUT|DELETE) \/v[\d.]+\/(containers|networks|volumes)\/\S*/;

export function slowEngine(socketPath: string, engineSocket = '/var/run/docker.sock'): SlowEngine {
  let server: net.Server | undefined;
  const open = new Set<net.Socket>();
  let seen = 0;
  let plan: { nth: number; stallMs: number; held: (line: string) => void } | undefined;
  let stallUntil = 0;
  return {
    url: `unix://${socketPath}`,
    async start() {
      rmSync(socketPath, { force: true });
      server = net.createServer((client) => {
        const engine = net.connect(engineSocket);
        open.add(client).add(engine);
        // HTTP/1.1 on one connection is one request at a time: the engine's next bytes answer the
        // changing request sent last, and until they come the connection stays, client or not.
        let answerOwed = false;
        let clientGone = false;
        const closeEngine = () => {
          engine.destroy();
          open.delete(engine);
        };
        client.on('error', () => client.destroy());
        client.on('close', () => {
          clientGone = true;
          open.delete(client);
          if (!answerOwed) closeEngine();
        });
        engine.on('error', () => client.destroy());
        engine.on('close', () => {
          client.destroy();
          open.delete(engine);
        });
        engine.on('data', (chunk: Buffer) => {
          answerOwed = false;
          if (clientGone) closeEngine();
          else client.write(chunk);
        });
        // Chunks go on in order; a held request delays everything after it on its connection.
        let gate = Promise.resolve();
        client.on('data', (chunk: Buffer) => {
          const line = changingRequest.exec(chunk.subarray(0, 200).toString('latin1'))?.[0];
          if (line) {
            seen += 1;
            if (plan && seen === plan.nth) {
              stallUntil = Date.now() + plan.stallMs;
              plan.held(line);
              plan = undefined;
            }
            answerOwed = true;
            const wait = stallUntil - Date.now();
            if (wait > 0) gate = gate.then(() => new Promise((resolve) => setTimeout(resolve, wait)));
          }
          void gate.then(() => {
            if (!engine.destroyed) engine.write(chunk);
          });
        });
      });
      await new Promise<void>((resolve) => server!.listen(socketPath, resolve));
    },
    stallAt(nth, stallMs) {
      seen = 0;
      stallUntil = 0;
      return new Promise((held) => {
        plan = { nth, stallMs, held };
      });
    },
    async stop() {
      for (const socket of open) socket.destroy();
      open.clear();
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      server = undefined;
      rmSync(socketPath, { force: true });
    },
  };
}
