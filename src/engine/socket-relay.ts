import path from 'node:path';
import type { DockerHost } from './docker-host.js';
import { openPrivateRelay, type PrivateRelay } from './private-relay.js';

// A unix socket inside a container (PostgreSQL's /run/postgresql/.s.PGSQL.5432), reached from this
// machine through the engine: a private listener of ours (engine/private-relay.ts: a unix socket in
// a fresh 0700 directory), and for each connection one `docker exec -i` into the container whose
// perl relays stdin/stdout to the container's socket.
//
// What this reaches is the server's local socket, which the tenant images trust (`local all all
// trust`): whoever connects logs in as any role, the superuser too; the 0700 directory hands that to
// tenantctl's own user only, who can `docker exec` anyway. node-postgres dials
// `<dir>/.s.PGSQL.<port>` when its host is a directory, so the listener takes the container socket's
// own file name.
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

export type SocketRelay = PrivateRelay;

/** Opens a private listener (engine/private-relay.ts) whose connections reach `containerSocket` (an absolute path) inside `container`. */
export async function openSocketRelay(host: DockerHost, container: string, containerSocket: string, { signal }: { signal?: AbortSignal } = {}): Promise<SocketRelay> {
  return openPrivateRelay(host, {
    socketName: path.basename(containerSocket),
    execArgs: async () => ['exec', '-i', '-u', 'postgres', container, 'perl', '-e', relay, containerSocket],
  }, { signal });
}
