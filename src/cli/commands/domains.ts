import type { Command } from 'commander';
import { withContext } from '../run.js';

export function define(command: Command): void {
  const domains = command.addHelpText('after', `
Examples:
  $ tenantctl domains add acme crm.acme.com --cert crm.acme.com.crt --key crm.acme.com.key
  $ tenantctl domains list acme
  $ tenantctl domains remove acme crm.acme.com
`);

  domains
    .command('add')
    .description('route a custom domain to a tenant (a domain belongs to one tenant)')
    .argument('<id>', 'tenant id')
    .argument('<domain>', 'a DNS name, such as crm.acme.com')
    .option('--cert <file>', 'the domain\'s certificate (PEM, with its chain); required unless one is installed for it')
    .option('--key <file>', 'its private key (PEM)')
    .addHelpText('after', `
Examples:
  $ tenantctl domains add acme crm.acme.com --cert crm.acme.com.crt --key crm.acme.com.key
  $ tenantctl domains add acme crm.acme.com          # on a front door set up with --acme

The domain brings its own certificate: without --cert (and none installed for it) add is refused
(exit 2) and nothing is recorded; the local development CA signs only names under the base domain.
On an ACME front door (frontdoor init --acme) add first checks that the domain reaches this door (a
token served and fetched over HTTP), then gets its certificate, then records it: a domain whose DNS
points elsewhere, whose port 80 is unreachable, or that the CA refuses is exit 12, nothing recorded.
A domain of another tenant is refused (exit 5).
`)
    .action(async (id: string, domain: string, options, command: Command) => {
      const { domainsAdd } = await import('../../frontdoor/commands.js');
      const { renderDomainChange } = await import('../../frontdoor/output.js');
      await withContext(command, (ctx) => domainsAdd(ctx, { id, domain, cert: options.cert, key: options.key }), renderDomainChange);
    });

  domains
    .command('remove')
    .description('stop routing a custom domain to a tenant (on an ACME door, its certificate is revoked)')
    .argument('<id>', 'tenant id')
    .argument('<domain>', 'the domain')
    .action(async (id: string, domain: string, _options, command: Command) => {
      const { domainsRemove } = await import('../../frontdoor/commands.js');
      const { renderDomainChange } = await import('../../frontdoor/output.js');
      await withContext(command, (ctx) => domainsRemove(ctx, { id, domain }), renderDomainChange);
    });

  domains
    .command('list')
    .description('custom domains, of one tenant or all')
    .argument('[id]', 'tenant id')
    .action(async (id: string | undefined, _options, command: Command) => {
      const { domainsList } = await import('../../frontdoor/commands.js');
      const { renderDomains } = await import('../../frontdoor/output.js');
      await withContext(command, (ctx) => domainsList(ctx, { id }), renderDomains);
    });
}
