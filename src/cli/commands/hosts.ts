import type { Command } from 'commander';
import { withContext } from '../run.js';

export function define(command: Command): void {
  const hosts = command
    .addHelpText('after', `
Examples:
  $ tenantctl hosts add web2 --docker ssh://root@10.0.0.12
  $ tenantctl hosts add web3 --docker tcp://10.0.0.13:2376 --tls-ca ca.pem --tls-cert cert.pem --tls-key key.pem
  $ tenantctl hosts list
  $ tenantctl hosts drain web2
  $ tenantctl hosts remove web2

The host tenantctl runs beside (DOCKER_HOST, TENANTCTL_HOST_ID) is always part of the fleet.
Provision places a new tenant by the config's placement (fewest-tenants or most-free-memory), or
on --host <name>; every later command for the tenant goes to its host.
`);

  hosts
    .command('add')
    .description('register a Docker host, once its engine has answered (exit 6 if it does not)')
    .argument('<name>', 'the host\'s name in the fleet: letters, digits, dots, dashes, underscores')
    .requiredOption('--docker <endpoint>', 'unix:///path, tcp://host:port or ssh://user@host')
    .option('--swarm', 'the endpoint is a swarm manager: tenants are deployed as stacks')
    .option('--tls-ca <file>', 'tcp with TLS: the CA certificate')
    .option('--tls-cert <file>', 'tcp with TLS: the client certificate')
    .option('--tls-key <file>', 'tcp with TLS: the client key (only its path is stored)')
    .option('--publish-address <ip>', "the host's address its tenants' front-door port is published on (default: the IP in the endpoint; 0.0.0.0: every interface, past the host's INPUT firewall)")
    .addHelpText('after', `
Examples:
  $ tenantctl hosts add web2 --docker ssh://root@10.0.0.12
  $ tenantctl hosts add web3 --docker tcp://10.0.0.13:2376 --tls-ca ca.pem --tls-cert cert.pem --tls-key key.pem --json
  $ tenantctl hosts add web4 --docker ssh://root@web4.example.net --publish-address 10.0.0.14
`)
    .action(async (name: string, options, command: Command) => {
      const { hostsAdd } = await import('../../hosts/commands.js');
      const { renderHostAdded } = await import('../../hosts/render.js');
      await withContext(command, (ctx) => hostsAdd(ctx, { name, docker: options.docker, swarm: options.swarm, tlsCa: options.tlsCa, tlsCert: options.tlsCert, tlsKey: options.tlsKey, publishAddress: options.publishAddress }), renderHostAdded);
    });

  hosts
    .command('list')
    .description('the fleet: each host reachable or not, engine version, tenants, CPU and memory capacity and use (hosts asked in parallel)')
    .option('--no-usage', 'skip docker stats (about 2 s per host, in parallel): capacity and promised memory only')
    .addHelpText('after', `
Examples:
  $ tenantctl hosts list
  $ tenantctl hosts list --no-usage --json

A host that does not answer within 5 s is listed as not reachable (the command still exits 0).
`)
    .action(async (options, command: Command) => {
      const { hostsList } = await import('../../hosts/commands.js');
      const { renderHosts } = await import('../../hosts/render.js');
      await withContext(command, (ctx) => hostsList(ctx, { usage: options.usage }), renderHosts);
    });

  for (const [verb, state, description] of [
    ['drain', 'draining', 'place no new tenants on a host; its tenants stay and are served (move them with tenantctl move)'],
    ['activate', 'active', 'let a drained host take new tenants again'],
  ] as const) {
    hosts
      .command(verb)
      .description(description)
      .argument('<name>', 'host name')
      .addHelpText('after', `
Examples:
  $ tenantctl hosts ${verb} web2
  $ tenantctl hosts ${verb} web2 --json
`)
      .action(async (name: string, _options, command: Command) => {
        const { hostsSetState } = await import('../../hosts/commands.js');
        const { renderHostState } = await import('../../hosts/render.js');
        await withContext(command, (ctx) => hostsSetState(ctx, { name, state }), renderHostState);
      });
  }

  hosts
    .command('remove')
    .description('remove a host from the fleet; refused (exit 5) while tenants remain on it')
    .argument('<name>', 'host name')
    .addHelpText('after', `
Examples:
  $ tenantctl hosts remove web2
  $ tenantctl hosts remove web2 --json

Its tenants must be moved (tenantctl move <id> --to <host>) or deprovisioned first. The engine
itself is not touched.
`)
    .action(async (name: string, _options, command: Command) => {
      const { hostsRemove } = await import('../../hosts/commands.js');
      const { renderHostRemoved } = await import('../../hosts/render.js');
      await withContext(command, (ctx) => hostsRemove(ctx, { name }), renderHostRemoved);
    });
}
