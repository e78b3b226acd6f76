// Extra Docker engines for end-to-end tests: each one is Debian's dockerd (and an OpenSSH server)
// in a container of its own, on a network the test creates, with its own address. tenantctl
// reaches them as any remote host: tcp://<ip>:2375 (no TLS: test-only) or ssh://root@<ip> (a key
// generated here). Everything is labelled `tenantctl.test-engines=<run>` and removed by that label.
//
// Why not --privileged: this machine's engine cannot grant CAP_SYS_RESOURCE (it is not in the
// bounding set), and --privileged asks for every capability. The engines get every other
// capability, no seccomp/AppArmor profile, unmasked /proc and /sys, every device, and remount their
// cgroup mounts read-write themselves (test/e2e/engines/entrypoint.sh).
// Storage: /var/lib/docker is a named volume (ext4 underneath), so the nested engine uses overlay2
// as the host does (overlay on the container's own overlay root is refused; vfs would copy every
// layer in full).
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const recipeDir = path.join(import.meta.dirname, 'engines');
export const engineImage = 'tenantctl/dind:test';
const baseImage = 'tenantctl/debian-base:bookworm';
const label = 'tenantctl.test-engines';

export interface TestEngine {
  /** Container name, also the engine's hostname. */
  name: string;
  /** The engine's address on the test network: where its published ports are reached. */
  address: string;
  /** tcp://<address>:2375 */
  tcp: string;
  /** ssh://root@<address>; needs `sshConfig` (TENANTCTL_SSH_CONFIG for tenantctl). */
  ssh: string;
  /** A docker CLI call on this engine (over tcp); stdout. */
  docker(args: string[], options?: { input?: string; timeoutMs?: number }): Promise<string>;
}

export interface TestEngines {
  run: string;
  network: string;
  engines: TestEngine[];
  /**
   * An ssh_config file: root, the generated key, no host key checks (every engine's host key is
   * new). Hand it to tenantctl as TENANTCTL_SSH_CONFIG; the docker CLI can use it through `sshEnv`.
   */
  sshConfig: string;
  /** For children that talk to ssh:// engines: TENANTCTL_SSH_CONFIG. */
  sshEnv: Record<string, string>;
  /** How long each step took, in ms, for reports. */
  timings: Record<string, number>;
  /** Copies images from this machine's engine into the engines that lack them (one `docker save`). */
  loadImages(images: string[], on?: TestEngine[]): Promise<void>;
  /** Stops an engine's container (its address stops answering); `start` brings it back. */
  stop(engine: TestEngine): Promise<void>;
  start(engine: TestEngine): Promise<void>;
  /** Makes the engines one swarm: the first is the manager, the rest join as workers. */
  formSwarm(): Promise<void>;
  /** Removes every container, volume and network of this run, and the key. */
  cleanup(): Promise<void>;
}

const docker = async (args: string[], options: { input?: string; timeoutMs?: number; env?: Record<string, string> } = {}) =>
  (await execa('docker', args, { timeout: options.timeoutMs ?? 60_000, input: options.input, env: options.env })).stdout;

/**
 * Builds tenantctl/dind when its recipe (Dockerfile, entrypoint, base image) changed; quick otherwise.
 * One build at a time on this machine (test lanes run two files at once, and both may find the image
 * missing): the second waits, then finds it built.
 */
export async function ensureEngineImage(): Promise<void> {
  await withMachineLock('tenantctl-dind-image', buildEngineImageIfChanged);
}

async function buildEngineImageIfChanged(): Promise<void> {
  const baseId = await docker(['image', 'inspect', '--format', '{{.Id}}', baseImage]).catch(() => {
    throw new Error(`${baseImage} is missing: run bash scripts/build-images.sh (or scripts/setup-host.sh) first`);
  });
  const hash = createHash('sha256');
  for (const file of ['Dockerfile', 'entrypoint.sh']) hash.update(readFileSync(path.join(recipeDir, file)));
  const recipe = hash.update(baseId).digest('hex').slice(0, 16);
  const current = await docker(['image', 'inspect', '--format', '{{ index .Config.Labels "tenantctl.recipe" }}', engineImage]).catch(() => '');
  if (current.trim() === recipe) return;
  await docker(['build', '-q', '--label', `tenantctl.recipe=${recipe}`, '--build-arg', `BASE_IMAGE=${baseImage}`, '-t', engineImage, recipeDir], { timeoutMs: 600_000 });
}

/**
 * Runs `work` while holding a lock named `name` shared by every process on this machine: a directory
 * made atomically in the temporary dir, holding the owner's PID. A lock whose owner is gone (killed)
 * is taken over.
 */
async function withMachineLock<T>(name: string, work: () => Promise<T>, { timeoutMs = 900_000 } = {}): Promise<T> {
  const dir = path.join(tmpdir(), `${name}.lock`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(dir);
      writeFileSync(path.join(dir, 'pid'), String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    // No PID (yet): its owner is between mkdir and write, or the lock was just let go; look again.
    const owner = Number(readOr(path.join(dir, 'pid')) ?? 0);
    if (owner > 0 && !isAlive(owner)) rmSync(dir, { recursive: true, force: true });
    else if (Date.now() > deadline) throw new Error(`${dir} is still held by process ${owner || '(unknown)'} after ${timeoutMs / 1000} s`);
    else await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  try {
    return await work();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function readOr(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Starts `count` engines named `<name>-<n>`, answering on tcp and ssh; `images` are loaded into
 * each (tenantctl's own ensureImages would do it on first use; preloading keeps a test's timings
 * about the thing it tests).
 */
export async function startEngines(name: string, count: number, { images = [] }: { images?: string[] } = {}): Promise<TestEngines> {
  const run = `tce${name}${Date.now().toString(36)}`.replace(/[^a-z0-9]/g, '').slice(0, 24);
  const timings: Record<string, number> = {};
  const timed = async <T>(step: string, work: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      return await work();
    } finally {
      timings[step] = Math.round(performance.now() - started);
    }
  };
  const keyDir = mkdtempSync(path.join(tmpdir(), `${run}-ssh-`));
  const keyFile = path.join(keyDir, 'id_ed25519');
  const sshConfig = path.join(keyDir, 'ssh_config');
  const engines: TestEngine[] = [];
  const cleanup = async () => {
    await removeEngines(run);
    rmSync(keyDir, { recursive: true, force: true });
  };

  try {
    await timed('image', ensureEngineImage);
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', run, '-f', keyFile]);
    writeFileSync(
      sshConfig,
      [
        `# Test engines of ${run}: every host key is new, so none is checked or remembered.`,
        'Host *',
        '  User root',
        `  IdentityFile ${keyFile}`,
        '  IdentitiesOnly yes',
        '  StrictHostKeyChecking no',
        '  UserKnownHostsFile /dev/null',
        '  LogLevel ERROR',
        '',
      ].join('\n'),
    );
    chmodSync(sshConfig, 0o600);
    const publicKey = readFileSync(`${keyFile}.pub`, 'utf8').trim();
    await docker(['network', 'create', '--label', `${label}=${run}`, run]);

    await timed('start', () =>
      Promise.all(
        Array.from({ length: count }, async (_, index) => {
          const container = `${run}-${index + 1}`;
          await docker(['volume', 'create', '--label', `${label}=${run}`, `${container}-data`]);
          await docker([
            'run', '-d', '--name', container, '--hostname', container, '--label', `${label}=${run}`, '--network', run,
            '--cap-add', 'ALL', '--cap-drop', 'SYS_RESOURCE',
            '--security-opt', 'seccomp=unconfined', '--security-opt', 'apparmor=unconfined', '--security-opt', 'systempaths=unconfined',
            '--device-cgroup-rule', 'a *:* rwm',
            '-v', `${container}-data:/var/lib/docker`, '-v', '/lib/modules:/lib/modules:ro',
            '-e', `AUTHORIZED_KEY=${publicKey}`,
            engineImage,
          ]);
          const address = (await docker(['inspect', '--format', `{{(index .NetworkSettings.Networks "${run}").IPAddress}}`, container])).trim();
          const tcp = `tcp://${address}:2375`;
          engines[index] = {
            name: container,
            address,
            tcp,
            ssh: `ssh://root@${address}`,
            docker: (args, options = {}) => docker(args, { ...options, env: { DOCKER_HOST: tcp } }),
          };
        }),
      ),
    );
    await timed('ready', () => Promise.all(engines.map((engine) => waitForEngine(engine))));

    const loadImages: TestEngines['loadImages'] = async (wanted, on = engines) => {
      const archive = path.join(keyDir, 'images.tar');
      await docker(['save', '-o', archive, ...wanted], { timeoutMs: 300_000 });
      try {
        await Promise.all(on.map((engine) => engine.docker(['load', '-q', '-i', archive], { timeoutMs: 300_000 })));
      } finally {
        rmSync(archive, { force: true });
      }
    };
    if (images.length) await timed('images', () => loadImages(images));

    return {
      run,
      network: run,
      engines,
      sshConfig,
      sshEnv: { TENANTCTL_SSH_CONFIG: sshConfig },
      timings,
      loadImages,
      async stop(engine) {
        await docker(['stop', '-t', '5', engine.name]);
      },
      async start(engine) {
        await docker(['start', engine.name]);
        // The address is kept: docker reuses it unless another container took it meanwhile.
        const address = (await docker(['inspect', '--format', `{{(index .NetworkSettings.Networks "${run}").IPAddress}}`, engine.name])).trim();
        if (address !== engine.address) throw new Error(`${engine.name} came back on ${address}, not ${engine.address}`);
        await waitForEngine(engine);
      },
      async formSwarm() {
        await timed('swarm', async () => {
          const [manager, ...workers] = engines;
          await manager!.docker(['swarm', 'init', '--advertise-addr', manager!.address]);
          const token = (await manager!.docker(['swarm', 'join-token', '-q', 'worker'])).trim();
          await Promise.all(workers.map((worker) => worker.docker(['swarm', 'join', '--advertise-addr', worker.address, '--token', token, `${manager!.address}:2377`])));
          // A node that has just joined is listed for a moment with no hostname and status Unknown
          // (seen in CI under load): formed means every node Ready, as the manager sees them.
          const deadline = Date.now() + 60_000;
          for (;;) {
            const listed = await manager!.docker(['node', 'ls', '--format', '{{.Hostname}} {{.Status}}']);
            const ready = listed.split('\n').filter((line) => line.endsWith(' Ready')).length;
            if (ready === engines.length) break;
            if (Date.now() > deadline) throw new Error(`swarm not formed within 60 s: ${listed.replace(/\n/g, '; ')}`);
            await new Promise((resolve) => setTimeout(resolve, 500));
          }
        });
      },
      cleanup,
    };
  } catch (error) {
    await cleanup().catch(() => {});
    throw error;
  }
}

async function waitForEngine(engine: TestEngine): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await engine.docker(['version', '--format', '{{.Server.Version}}'], { timeoutMs: 5_000 });
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`test engine ${engine.name} did not answer on ${engine.tcp} within 60 s`, { cause: error });
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/** Removes the engines of one run (or of every run: `removeEngines()`), by label. */
export async function removeEngines(run?: string): Promise<void> {
  const filter = run ? `label=${label}=${run}` : `label=${label}`;
  const containers = (await docker(['ps', '-aq', '--filter', filter])).split('\n').filter(Boolean);
  if (containers.length) await docker(['rm', '-fv', ...containers], { timeoutMs: 120_000 });
  const volumes = (await docker(['volume', 'ls', '-q', '--filter', filter])).split('\n').filter(Boolean);
  if (volumes.length) await docker(['volume', 'rm', '-f', ...volumes], { timeoutMs: 120_000 });
  const networks = (await docker(['network', 'ls', '-q', '--filter', filter])).split('\n').filter(Boolean);
  if (networks.length) await docker(['network', 'rm', ...networks]);
}
