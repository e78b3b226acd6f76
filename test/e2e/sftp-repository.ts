// A backup repository on a separate test host over sftp, for the e2e files that need one
// (repository.test.ts, recover.test.ts): a container of Debian's openssh-server (test/e2e/sftp-host,
// its image built once per machine), reached at its container address with a key the test makes and
// its host key pinned, a password in a 0600 file. The harness's environment is pointed at it
// (TENANTCTL_BACKUP_REPOSITORY, _SSH_KEY, _SSH_KNOWN_HOSTS). The container is no compose project:
// it outlives removal by the harness's prefix (the disaster drill's "lost machine") and `remove`
// takes it by its test label.
import { execa } from 'execa';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Harness } from './harness.js';

const image = 'tenantctl/sftp-test:bookworm';

export interface SftpRepository {
  /** sftp:vault@<ip>:/srv/restic/<prefix> */
  url: string;
  passwordFile: string;
  /** restic by hand, as an operator would run it: RESTIC_REPOSITORY, RESTIC_PASSWORD_FILE, a cache of the test's. */
  resticEnv: Record<string, string>;
  /** restic's own sftp.command with the test's key and pinned host key: before any restic verb. */
  resticArgs: string[];
  /** `restic <resticArgs> <args>`; throws with restic's stderr unless it exits 0. */
  restic(args: string[], options?: { stdout?: 'buffer'; input?: string }): Promise<{ stdout: string | Uint8Array; stderr: string | Uint8Array }>;
  /** The test host removed (by its test label). */
  remove(): Promise<void>;
}

export async function startSftpRepository(h: Harness, password: string): Promise<SftpRepository> {
  const present = await execa('docker', ['image', 'inspect', image], { reject: false });
  if (present.exitCode !== 0) await execa('docker', ['build', '-q', '-t', image, path.join(import.meta.dirname, 'sftp-host')], { timeout: 600_000 });
  const key = path.join(h.dir, 'repo-key');
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'tenantctl repository test', '-f', key]);
  const { stdout: publicKey } = await execa('cat', [`${key}.pub`]);
  const { stdout: cid } = await execa('docker', ['run', '-d', '--name', `${h.prefix}-sftp`, '--label', `tenantctl.test=${h.prefix}`, '-e', `AUTHORIZED_KEY=${publicKey}`, image]);
  const { stdout: ip } = await execa('docker', ['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', cid]);
  // The host's own key, pinned (StrictHostKeyChecking=yes): read from the container, as an operator would from the host.
  const hostKey = (await execa('docker', ['exec', cid, 'cat', '/etc/ssh/ssh_host_ed25519_key.pub'])).stdout.split(' ').slice(0, 2).join(' ');
  const knownHosts = path.join(h.dir, 'known_hosts');
  writeFileSync(knownHosts, `${ip} ${hostKey}\n`);
  const url = `sftp:vault@${ip}:/srv/restic/${h.prefix}`;
  Object.assign(h.env, { TENANTCTL_BACKUP_REPOSITORY: url, TENANTCTL_BACKUP_SSH_KEY: key, TENANTCTL_BACKUP_SSH_KNOWN_HOSTS: knownHosts });
  const passwordFile = path.join(h.dir, 'repo.pass');
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  const resticEnv = { RESTIC_REPOSITORY: url, RESTIC_PASSWORD_FILE: passwordFile, RESTIC_CACHE_DIR: path.join(h.dir, 'restic-cache') };
  const resticArgs = ['-o', `sftp.command=ssh -o BatchMode=yes -i ${key} -o IdentitiesOnly=yes -o UserKnownHostsFile=${knownHosts} -o StrictHostKeyChecking=yes vault@${ip} -s sftp`];
  // sshd takes a moment to listen.
  for (let i = 0; i < 50; i++) {
    const r = await execa('ssh', ['-o', 'BatchMode=yes', '-i', key, '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'ConnectTimeout=2', `vault@${ip}`, 'true'], { reject: false });
    if (r.exitCode === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    url, passwordFile, resticEnv, resticArgs,
    async restic(args, options = {}) {
      const r = await execa('restic', [...resticArgs, ...args], {
        env: resticEnv, extendEnv: true, reject: false, timeout: 120_000, maxBuffer: 256 * 1024 * 1024,
        encoding: options.stdout === 'buffer' ? 'buffer' : 'utf8', ...(options.input === undefined ? {} : { input: options.input }),
      });
      if (r.exitCode !== 0) throw new Error(`restic ${args.join(' ')} failed: ${String(r.stderr)}`);
      return r;
    },
    async remove() {
      const { stdout } = await execa('docker', ['ps', '-aq', '--filter', `label=tenantctl.test=${h.prefix}`], { reject: false });
      if (stdout.trim()) await execa('docker', ['rm', '-fv', ...stdout.trim().split(/\s+/)], { reject: false });
    },
  };
}
