import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { childEnvironment } from '../common/child-env.js';
import { killGraceMs } from '../common/timeouts.js';
import type { DockerHost } from './docker-host.js';
import { privateSocketDir, removeSocketDir } from './private-socket-dir.js';

// A port of a container that is not published (a remote tenant's PostgreSQL and Redis:
// DockerHost.keepsPortsPrivate), reached through the engine instead: a listener on this machine's
// loopback, and for each connection to it one `docker exec -i` into the container whose bash relays
// stdin/stdout to <the container's own address>:<port> (bash's /dev/tcp; tenantctl's postgres and
// redis images are Debian with bash). Nothing else changes for the client: the pg and ioredis
// probes, the schema's login, node:http all dial 127.0.0.1:<listener port>. It works the same over
// a local socket, tcp:// (TLS) and ssh:// (the command's one ssh connection) engines and on a swarm
// node, and needs no port on the remote host. A connection costs one docker CLI start (~0.1 s).
//
// The container's own address (`hostname -i`), not 127.0.0.1: a server may trust loopback (the
// official postgres image's pg_hba.conf has `host all all 127.0.0.1/32 trust`), and a relayed
// connection must meet the same password check as any other on the tenant's network. A port that
// was published listens there anyway (Docker's port forwarding reaches that address too).
//
// The listener is a unix socket in a fresh directory of mode 0700, not a loopback port (issue 21):
// a loopback port takes any local user's connection while it is open, and the relay then runs
// `docker exec` for them; the directory lets in tenantctl's own user only. Every client can dial
// one: node-postgres takes the directory as its host and dials <dir>/.s.PGSQL.<port>, which is why
// the socket has that name (with the container's port) for every service; ioredis takes `path`,
// node:http `socketPath` (stack/probes.ts). The end says both: { host: <dir>, port, socketPath }.
//
// The relay: the reader (container port -> stdout) and the writer (stdin -> container port) run
// side by side; whichever ends first (the server closed, or the client did) ends the other, so the
// exec ends and this side sees the connection close. `<&0` is explicit because bash gives a
// background command /dev/null as stdin otherwise.
const ownAddress = 'a=$(hostname -i 2>/dev/null); a=${a%% *}; [ -n "$a" ] || exit 96; ';
const relay = `${ownAddress}exec 3<>"/dev/tcp/$a/$1" || exit 97; cat <&3 & r=$!; cat <&0 >&3 & w=$!; wait -n; kill $r $w 2>/dev/null; exit 0`;
/** Exits 0 when something accepts a TCP connection on port $1 at the container's own address (a tcp readiness check inside it). */
export const connectCheck = `${ownAddress}exec 3<>"/dev/tcp/$a/$1"`;

export interface TunnelEnd {
  host: string;
  port: number;
  /** A unix socket to dial instead of host:port (a relay's; host is then its directory, for node-postgres). */
  socketPath?: string;
}

export interface ExecTunnel extends TunnelEnd {
  socketPath: string;
  /** Stops listening and ends every relay still open. */
  close(): Promise<void>;
}

/**
 * Opens a private unix-socket listener whose connections reach `containerPort` inside the container that
 * `findContainer` names (asked again whenever a relay fails: the container may have been
 * replaced). No container yet, or nothing listening there yet: the connection is closed at once,
 * which every probe reads as "not yet".
 */
export async function openExecTunnel(host: DockerHost, findContainer: (signal?: AbortSignal) => Promise<string | undefined>, containerPort: number, { signal }: { signal?: AbortSignal } = {}): Promise<ExecTunnel> {
  await host.connect();
  const children = new Set<ReturnType<typeof spawn>>();
  const sockets = new Set<net.Socket>();
  let container: string | undefined;
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {}); // the client's own error; the relay's end follows
    void (async () => {
      try {
        container ??= await findContainer(signal);
      } catch {
        container = undefined;
      }
      if (!container || socket.destroyed || signal?.aborted) {
        socket.destroy();
        return;
      }
      const child = spawn('docker', ['exec', '-i', container, 'bash', '-c', relay, 'relay', String(containerPort)], {
        env: childEnvironment(host.env),
        stdio: ['pipe', 'pipe', 'ignore'],
        // No timeout of its own: a relay lasts as long as its connection (each client has its
        // connect and query timeouts); Ctrl-C ends it, and so does close().
        signal,
      });
      children.add(child);
      let answered = false;
      child.stdout!.on('data', () => { answered = true; });
      child.stdout!.pipe(socket);
      socket.pipe(child.stdin!);
      child.stdin!.on('error', () => {}); // the relay ended first: its exit closes the socket
      child.on('error', () => {
        container = undefined;
        socket.destroy();
      });
      child.on('close', (code) => {
        children.delete(child);
        // A relay that failed before answering (no such container, not running, replaced, nothing
        // listening yet): no container is kept; the next connection looks it up afresh.
        if (code !== 0 && !answered) container = undefined;
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
  const socketPath = path.join(dir, `.s.PGSQL.${containerPort}`);
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
    host: dir,
    port: containerPort,
    socketPath,
    close: async () => {
      for (const child of children) child.kill('SIGTERM');
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await removeSocketDir(dir);
    },
  };
}
