// A stand-in for a Docker engine that goes away: a unix socket that forwards to the real engine's
// socket until it is stopped. Pointing DOCKER_HOST at it lets a test take "the engine" down in the
// middle of a command without stopping the engine every other test uses.
import net from 'node:net';
import { rmSync } from 'node:fs';

export interface DockerProxy {
  url: string;
  start(): Promise<void>;
  /** Refuses new connections and cuts open ones, as a stopped engine would. */
  stop(): Promise<void>;
}

export function dockerProxy(socketPath: string, engineSocket = '/var/run/docker.sock'): DockerProxy {
  let server: net.Server | undefined;
  const open = new Set<net.Socket>();
  return {
    url: `unix://${socketPath}`,
    async start() {
      rmSync(socketPath, { force: true });
      server = net.createServer((client) => {
        const engine = net.connect(engineSocket);
        open.add(client).add(engine);
        const close = () => {
          client.destroy();
          engine.destroy();
          open.delete(client);
          open.delete(engine);
        };
        client.on('error', close).on('close', close);
        engine.on('error', close).on('close', close);
        client.pipe(engine).pipe(client);
      });
      await new Promise<void>((resolve) => server!.listen(socketPath, resolve));
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
