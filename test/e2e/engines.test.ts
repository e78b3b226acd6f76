// The test engines themselves (test/e2e/engines.ts): three engines reached over tcp and ssh,
// a port published on one reached from here, a swarm formed of them, nothing left afterwards.
import { execa } from 'execa';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEngines, type TestEngines } from './engines.js';

let fleet: TestEngines;

beforeAll(async () => {
  fleet = await startEngines('selftest', 3);
  console.log(`engines: ${JSON.stringify(fleet.timings)}`);
}, 600_000);

afterAll(async () => {
  await fleet?.cleanup();
});

describe('test engines', () => {
  it('each answers over tcp as its own engine', async () => {
    const ids = await Promise.all(fleet.engines.map((e) => e.docker(['info', '--format', '{{.ID}} {{.Driver}}'])));
    expect(new Set(ids).size).toBe(3);
    for (const id of ids) expect(id).toMatch(/ overlay2$/);
  });

  it('answers over ssh with the generated key, and refuses without it', async () => {
    const engine = fleet.engines[1]!;
    const ok = await execa('ssh', ['-F', fleet.sshConfig, `root@${engine.address}`, 'docker', 'info', '--format', '{{.Name}}'], { reject: false, timeout: 30_000 });
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(ok.stdout.trim()).toBe(engine.name);
    const refused = await execa('ssh', ['-F', '/dev/null', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', `root@${engine.address}`, 'true'], { reject: false, timeout: 30_000 });
    expect(refused.exitCode).not.toBe(0);
  });

  it('runs containers whose published ports answer at the engine address', async () => {
    const engine = fleet.engines[0]!;
    await fleet.loadImages(['tenantctl/redis:7'], [engine]);
    const started = performance.now();
    await engine.docker(['run', '-d', '--name', 'echo', '-p', '0.0.0.0:17001:7001', 'tenantctl/redis:7', 'redis-server', '--port', '7001', '--protected-mode', 'no']);
    const reply = await new Promise<string>((resolve, reject) => {
      const deadline = Date.now() + 20_000;
      const attempt = () => {
        const socket = net.connect(17001, engine.address);
        socket.once('connect', () => socket.end('PING\r\n'));
        socket.once('data', (d) => resolve(String(d).trim()));
        socket.once('error', (e) => (Date.now() > deadline ? reject(e) : setTimeout(attempt, 200)));
      };
      attempt();
    });
    expect(reply).toBe('+PONG');
    console.log(`container up and answering on ${engine.address}: ${Math.round(performance.now() - started)} ms`);
  });

  it('forms a swarm of three nodes', async () => {
    await fleet.formSwarm();
    const nodes = await fleet.engines[0]!.docker(['node', 'ls', '--format', '{{.Hostname}} {{.Status}}']);
    expect(nodes.split('\n').sort()).toEqual(fleet.engines.map((e) => `${e.name} Ready`).sort());
    console.log(`swarm formed in ${fleet.timings.swarm} ms`);
  }, 120_000); // formSwarm waits up to 60 s for every node Ready

  it('stop makes an engine unreachable; start brings it back on the same address', async () => {
    const engine = fleet.engines[2]!;
    await fleet.stop(engine);
    await expect(engine.docker(['version'], { timeoutMs: 5_000 })).rejects.toThrow();
    await fleet.start(engine);
    expect((await engine.docker(['info', '--format', '{{.Name}}'])).trim()).toBe(engine.name);
  });

  it('cleanup leaves no container, volume or network of the run', async () => {
    const probe = await startEngines('cleanup', 1);
    await probe.cleanup();
    for (const kind of ['ps -a', 'volume ls', 'network ls']) {
      const { stdout } = await execa('docker', [...kind.split(' '), '-q', '--filter', `label=tenantctl.test-engines=${probe.run}`]);
      expect(stdout, kind).toBe('');
    }
  }, 120_000);
});
