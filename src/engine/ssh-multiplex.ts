import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../common/exec.js';
import { sshExitTimeoutMs, sshMasterTimeoutMs } from '../common/timeouts.js';
import { ignoreFailure } from '../common/ignore-failure.js';

/**
 * One ssh connection per host per command, for ssh:// engines.
 *
 * The docker CLI (and compose v2, which uses the same helper) reaches an ssh:// engine by running
 * `ssh -o ConnectTimeout=30 -T -- <host> docker system dial-stdio`, found on PATH, once per API
 * connection: a full ssh handshake each time (about 0.8 s per docker call, measured against a
 * test engine, against about 0.12 s multiplexed). It takes no ssh options of ours (there is no
 * DOCKER_SSH_OPTS) and ssh reads only ~/.ssh/config, which belongs to the operator. So for the
 * hosts of one tenantctl process we put a directory first on the children's PATH holding an `ssh`
 * that runs the real one with `-F <our config>`; that config includes the operator's own
 * (TENANTCTL_SSH_CONFIG, ~/.ssh/config, /etc/ssh/ssh_config: their settings win, ssh takes the
 * first value it reads) and then turns on ControlMaster with a socket private to this process.
 * The master ends with the command (close), or ControlPersist seconds after its last use if the
 * process dies without closing.
 */
export class SshMultiplexer {
  /** Instances in this process (one per DockerHost): each has its own directory, closed on its own. */
  private static instances = 0;
  private dir?: string;
  private master?: Promise<void>;
  private readonly instance = ++SshMultiplexer.instances;

  constructor(
    private readonly options: {
      /** Where the per-process directory goes (tenantctl's state dir). */
      baseDir: string;
      /** PATH of the children, to find the real ssh (never the wrapper). */
      searchPath: string;
      /** An ssh_config of the operator's to include first (TENANTCTL_SSH_CONFIG). */
      configFile?: string;
      /** The process the connections belong to: its pid names the directory. */
      pid?: number;
    },
  ) {}

  /** PATH for docker/compose children: the wrapper first. Writes the wrapper on first use. */
  childPath(): string {
    return [this.prepare(), this.options.searchPath].filter(Boolean).join(path.delimiter);
  }

  private prepare(): string {
    if (this.dir) return path.join(this.dir, 'bin');
    const pid = this.options.pid ?? process.pid;
    let dir = path.join(this.options.baseDir, 'ssh', `${pid}-${this.instance}`);
    // A unix socket path holds at most 107 bytes; the master's is <dir>/cm-<40 hex digits>, and ssh
    // first binds it with a 17-byte temporary suffix (.<16 random characters>) before renaming it.
    if (dir.length + 44 + 17 > 104) {
      // A shorter place in the shared temp dir: a fresh directory that only this process can have
      // made (mkdtemp: new name, mode 0700). A fixed name there could be another user's, and its
      // bin/ is first on the docker CLI's PATH: their `ssh` would run with the operator's keys.
      dir = mkdtempSync(path.join(os.tmpdir(), 'tenantctl-ssh-'));
    } else {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      chmodSync(dir, 0o700);
    }
    const realSsh = findSsh(this.options.searchPath, dir);
    mkdirSync(path.join(dir, 'bin'), { recursive: true, mode: 0o700 });
    const config = path.join(dir, 'config');
    writeFileSync(config, renderSshConfig({ include: this.options.configFile, controlDir: dir }), { mode: 0o600 });
    const wrapper = path.join(dir, 'bin', 'ssh');
    writeFileSync(wrapper, `#!/bin/sh\n# tenantctl: the real ssh with this process's config (connection reuse); see src/engine/ssh-multiplex.ts\nexec ${shellQuote(realSsh)} -F ${shellQuote(config)} "$@"\n`, { mode: 0o700 });
    this.dir = dir;
    return path.join(dir, 'bin');
  }

  /**
   * Opens the master connection once, before the first docker call: calls made at the same moment
   * (a command asks several things in parallel) would otherwise each find no master yet and each
   * log in. A failure here is not reported: the docker call that follows says what is wrong.
   */
  ready(url: string): Promise<void> {
    return (this.master ??= (async () => {
      const match = /^ssh:\/\/([^/]+?)(?::(\d+))?(?:\/.*)?$/.exec(url);
      if (!match) return;
      const bin = this.prepare();
      // -M -N -f: a master with no session of its own, in the background once logged in.
      await run([path.join(bin, 'ssh'), '-M', '-N', '-f', '-o', 'ConnectTimeout=30', ...(match[2] ? ['-p', match[2]] : []), '--', match[1]!], { timeoutMs: sshMasterTimeoutMs }).catch(ignoreFailure('no master: the docker call that follows logs in on its own and says what is wrong'));
    })());
  }

  /** Ends this process's master connections and removes the directory. */
  async close(): Promise<void> {
    const dir = this.dir;
    if (!dir) return;
    this.dir = undefined;
    this.master = undefined;
    const sockets = existsSync(dir) ? readdirSync(dir).filter((name) => name.startsWith('cm-')) : [];
    await Promise.all(
      sockets.map((socket) =>
        // -O exit talks to the master through its socket; the host argument is not dialled.
        run(['ssh', '-o', `ControlPath=${path.join(dir, socket)}`, '-O', 'exit', 'tenantctl-master'], { timeoutMs: sshExitTimeoutMs }).catch(ignoreFailure("the command's result stands; a master that does not answer is gone already")),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Our ssh_config: the operator's files first (their values win), then connection reuse. */
export function renderSshConfig({ include, controlDir }: { include?: string; controlDir: string }): string {
  return [
    '# Written by tenantctl for one command: the operator\'s settings, then one reused connection per host.',
    ...(include ? [`Include ${include}`] : []),
    'Include ~/.ssh/config',
    'Include /etc/ssh/ssh_config',
    'Host *',
    '  ControlMaster auto',
    `  ControlPath ${controlDir}/cm-%C`,
    // Only a fallback: close() ends the master when the command ends.
    '  ControlPersist 30',
    '',
  ].join('\n');
}

function findSsh(searchPath: string, wrapperDir: string): string {
  for (const dir of searchPath.split(path.delimiter).filter(Boolean)) {
    if (dir.startsWith(wrapperDir)) continue;
    const candidate = path.join(dir, 'ssh');
    if (existsSync(candidate)) return candidate;
  }
  return '/usr/bin/ssh';
}

const shellQuote = (value: string) => `'${value.replaceAll("'", `'\\''`)}'`;
