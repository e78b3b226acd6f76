import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { childEnvironment } from '../common/child-env.js';
import { killGraceMs } from '../common/timeouts.js';
import type { DockerHost } from './docker-host.js';
import { privateSocketDir, removeSocketDir } from './private-socket-dir.js';

// A unix socket inside a container (PostgreSQL's /run/postgresql/.s.PGSQL.5432), reached from this
// machine through the engine: a listener on a unix socket of ours, in a fresh directory of mode
// 0700 (so only the user running tenantctl can connect to it), and for each connection one
// `docker exec -i` into the container whose perl relays stdin/stdout to the container's socket.
//
// Why a unix socket here and not loopback TCP (engine/exec-tunnel.ts): what this reaches is the
// server's local socket, which the tenant images trust (`local all all trust`): whoever connects
// logs in as any role, the superuser too. A loopback port would hand that to every local user for
// as long as it is open; a socket in a 0700 directory hands it to tenantctl's own user only, who can
// `docker exec` anyway. node-postgres dials `<dir>/.s.PGSQL.<port>` when its host is a directory,
// so the listener takes the container socket's own file name.
//
// As the image's postgres user, not root (review M3): the relay needs nothing but the socket,
// which that user owns; a root process in the tenant's container is more than it needs.
// perl, not bash: bash's /dev/tcp has no unix-socket form; perl (perl-base, in every Debian image,
// tenantctl's postgres image included) has IO::Socket::UNIX. Whichever side ends first ends the relay.
const relay = [
  'use IO::Socket::UNIX; use IO::Select;',
  'my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => $ARGV[0]) or exit 97;',
  'binmode STDIN; binmode STDOUT; my $sel = IO::Select->new(\\*STDIN, $s);',
  'sub put { my ($h, $b) = @_; while (length $b) { my $n = syswrite($h, $b); exit 0 unless $n; substr($b, 0, $n) = q() } }',
  'while (my @ready = $sel->can_read) { for my $h (@ready) {',
  '  my $n = sysread($h, my $buf, 65536); exit 0 unless $n;',
  '  if ($h == $s) { put(\\*STDOUT, $buf) } else { put($s, $buf) } } }',
].join('\n');

export interface SocketRelay {
  /** The 0700 directory holding the listener (node-postgres: host = this directory). */
  dir: string;
  /** The listener's path: <dir>/<the container socket's file name>. */
  socketPath: string;
  /** Stops listening, ends every relay still open and removes the directory. */
  close(): Promise<void>;
}

/** Opens a private listener whose connections reach `containerSocket` (an absolute path) inside `container`. */
export async function openSocketRelay(host: DockerHost, container: string, containerSocket: string, { signal }: { signal?: AbortSignal } = {}): Promise<SocketRelay> {
  await host.connect();
  const dir = await privateSocketDir();
  const socketPath = path.join(dir, path.basename(containerSocket));
  const children = new Set<ReturnType<typeof spawn>>();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {}); // the client's own error; the relay's end follows
    if (signal?.aborted) {
      socket.destroy();
      return;
    }
    const child = spawn('docker', ['exec', '-i', '-u', 'postgres', container, 'perl', '-e', relay, containerSocket], {
      env: childEnvironment(host.env),
      stdio: ['pipe', 'pipe', 'ignore'],
      // No timeout of its own: it lasts as long as its connection (the client has its own); Ctrl-C and close() end it.
      signal,
    });
    children.add(child);
    child.stdout!.pipe(socket);
    socket.pipe(child.stdin!);
    child.stdin!.on('error', () => {}); // the relay ended first: its exit closes the socket
    child.on('error', () => socket.destroy());
    child.on('close', () => {
      children.delete(child);
      socket.end();
    });
    socket.on('close', () => {
      child.stdin!.end();
      setTimeout(() => { if (child.exitCode === null) child.kill('SIGKILL'); }, killGraceMs).unref();
    });
  });
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
