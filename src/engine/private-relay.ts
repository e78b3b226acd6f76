import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { childEnvironment } from '../common/child-env.js';
import { killGraceMs } from '../common/timeouts.js';
import { ignoreFailure } from '../common/ignore-failure.js';
import type { DockerHost } from './docker-host.js';
import { privateSocketDir, removeSocketDir } from './private-socket-dir.js';

// The one relay both ways into a container use (exec-tunnel.ts: a TCP port; socket-relay.ts: a unix
// socket): a listener on a unix socket of ours, in a fresh directory of mode 0700, and for each
// connection to it one `docker exec -i` whose program relays its stdin/stdout to what it reaches
// inside the container. A unix socket in a 0700 directory, not a loopback port (issue 21): a
// loopback port takes any local user's connection while it is open and the relay then runs
// `docker exec` for them (into a server that may trust the connection); the directory lets in
// tenantctl's own user only, who can `docker exec` anyway. Each caller names the socket's file and
// the exec's argv; this file owns the listener, the children, their ends and the cleanup.

export interface PrivateRelay {
  /** The 0700 directory holding the listener (node-postgres: host = this directory). */
  dir: string;
  /** The listener's path: <dir>/<socketName>. */
  socketPath: string;
  /** Stops listening, ends every relay still open and removes the directory. */
  close(): Promise<void>;
}

export interface PrivateRelayPlan {
  /** The listener's file name in the directory (node-postgres dials <dir>/.s.PGSQL.<port>). */
  socketName: string;
  /**
   * The argv after `docker` that relays one connection (`exec -i <container> ...`), asked for each
   * connection; undefined: nothing to reach yet, the connection is closed at once (a probe reads that
   * as "not yet").
   */
  execArgs(signal?: AbortSignal): Promise<string[] | undefined>;
  /** Told when a relay failed before it relayed a byte back (could not start, or exited non-zero unanswered). */
  onFailedRelay?(): void;
}

/** Opens a private unix-socket listener whose every connection runs `docker <plan.execArgs()>` on `host` as its relay. */
export async function openPrivateRelay(host: DockerHost, plan: PrivateRelayPlan, { signal }: { signal?: AbortSignal } = {}): Promise<PrivateRelay> {
  await host.connect();
  const children = new Set<ReturnType<typeof spawn>>();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {}); // the client's own error; the relay's end follows
    void (async () => {
      const args = await plan.execArgs(signal).catch(ignoreFailure('a lookup that fails is a relay that cannot start: the connection ends, the next one asks again'));
      if (!args || socket.destroyed || signal?.aborted) {
        if (!args) plan.onFailedRelay?.();
        socket.destroy();
        return;
      }
      const child = spawn('docker', args, {
        env: childEnvironment(host.env),
        stdio: ['pipe', 'pipe', 'ignore'],
        // No timeout of its own: a relay lasts as long as its connection (each client has its
        // connect and query timeouts); Ctrl-C ends it, and so does close().
        signal,
      });
      children.add(child);
      let answered = false;
      child.stdout!.on('data', () => { answered = true; });
      // Not ended by the relay's stdout: its exit ends the socket (below), after it has said whether
      // it failed, so a client that reconnects at once does not get the same dead container again.
      child.stdout!.pipe(socket, { end: false });
      socket.pipe(child.stdin!);
      child.stdin!.on('error', () => {}); // the relay ended first: its exit closes the socket
      child.on('error', () => {
        plan.onFailedRelay?.();
        socket.destroy();
      });
      child.on('close', (code) => {
        children.delete(child);
        if (code !== 0 && !answered) plan.onFailedRelay?.();
        socket.end();
      });
      socket.on('close', () => {
        child.stdin!.end();
        // The relay ends on its own when its stdin closes; one that does not is stopped.
        setTimeout(() => { if (child.exitCode === null) child.kill('SIGKILL'); }, killGraceMs).unref();
      });
    })();
  });
  const dir = await privateSocketDir();
  const socketPath = path.join(dir, plan.socketName);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
  } catch (error) {
    await removeSocketDir(dir);
    throw error;
  }
  return {
    dir,
    socketPath,
    close: async () => {
      for (const child of children) child.kill('SIGTERM');
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await removeSocketDir(dir);
    },
  };
}
