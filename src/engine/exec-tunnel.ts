import type { DockerHost } from './docker-host.js';
import { openPrivateRelay } from './private-relay.js';

// A port of a container that is not published (a remote tenant's PostgreSQL and Redis:
// DockerHost.keepsPortsPrivate), reached through the engine instead: a private listener of ours
// (engine/private-relay.ts), and for each connection to it one `docker exec -i` into the container
// whose bash relays stdin/stdout to <the container's own address>:<port> (bash's /dev/tcp;
// tenantctl's postgres and redis images are Debian with bash). Nothing else changes for the client:
// the pg and ioredis probes, the schema's login, node:http all dial the listener. It works the same over
// a local socket, tcp:// (TLS) and ssh:// (the command's one ssh connection) engines and on a swarm
// node, and needs no port on the remote host. A connection costs one docker CLI start (~0.1 s).
//
// The container's own address (`hostname -i`), not 127.0.0.1: a server may trust loopback (the
// official postgres image's pg_hba.conf has `host all all 127.0.0.1/32 trust`), and a relayed
// connection must meet the same password check as any other on the tenant's network. A port that
// was published listens there anyway (Docker's port forwarding reaches that address too).
//
// The listener is a unix socket in a fresh directory of mode 0700 (private-relay.ts says why). Every
// client can dial one: node-postgres takes the directory as its host and dials <dir>/.s.PGSQL.<port>, which is why
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
 * Opens a private unix-socket listener (engine/private-relay.ts) whose connections reach `containerPort`
 * inside the container that `findContainer` names (asked again whenever a relay fails: the container
 * may have been replaced). No container yet, or nothing listening there yet: the connection is closed
 * at once, which every probe reads as "not yet".
 */
export async function openExecTunnel(host: DockerHost, findContainer: (signal?: AbortSignal) => Promise<string | undefined>, containerPort: number, { signal }: { signal?: AbortSignal } = {}): Promise<ExecTunnel> {
  let container: string | undefined;
  const relayed = await openPrivateRelay(host, {
    socketName: `.s.PGSQL.${containerPort}`,
    execArgs: async (lookup) => {
      container ??= await findContainer(lookup);
      return container ? ['exec', '-i', container, 'bash', '-c', relay, 'relay', String(containerPort)] : undefined;
    },
    // A relay that failed before answering (no such container, not running, replaced, nothing
    // listening yet): no container is kept; the next connection looks it up afresh.
    onFailedRelay: () => { container = undefined; },
  }, { signal });
  return { host: relayed.dir, port: containerPort, socketPath: relayed.socketPath, close: relayed.close };
}
