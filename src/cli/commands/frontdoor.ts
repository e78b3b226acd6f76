import type { Command } from 'commander';
import { withContext } from '../run.js';

export function define(command: Command): void {
  const frontdoor = command.addHelpText('after', `
Examples:
  $ tenantctl frontdoor init --self-signed
  $ tenantctl frontdoor init --cert /etc/ssl/tenants.crt --key /etc/ssl/tenants.key
  $ TENANTCTL_FRONTDOOR_ACME_EMAIL=ops@example.com tenantctl frontdoor init --acme
  $ tenantctl frontdoor status
  $ tenantctl frontdoor reload
  $ tenantctl frontdoor renew

nginx (tenantctl/nginx) routes https://<id>.<baseDomain> and each tenant's custom domains to its
app; requests under /api/ need one of the tenant's API keys, checked by the gateway.
`);

  frontdoor
    .command('init')
    .description('set up and start the front door (nginx and the gateway), with a certificate')
    .option('--self-signed', 'create a local CA (kept) and a wildcard certificate for *.<baseDomain>, for development')
    .option('--cert <file>', 'your certificate (PEM, with its chain) for *.<baseDomain>')
    .option('--key <file>', 'its private key (PEM)')
    .option('--acme', 'a certificate per host name (<id>.<baseDomain>, custom domains) from an ACME CA (frontdoor.acme.directory, Let\'s Encrypt by default), by HTTP-01 on the door\'s HTTP port')
    .addHelpText('after', `
Examples:
  $ tenantctl frontdoor init --acme
  $ TENANTCTL_FRONTDOOR_ACME_DIRECTORY=https://acme.internal/directory TENANTCTL_FRONTDOOR_ACME_CA_BUNDLE=/etc/ssl/internal-ca.pem tenantctl frontdoor init --acme
  $ tenantctl frontdoor init --self-signed
  $ curl --cacert ~/.local/state/tenantctl/frontdoor/tls/ca.crt https://acme.tenants.localhost/api/health
  $ TENANTCTL_FRONTDOOR_BASE_DOMAIN=tenants.example.com tenantctl frontdoor init --cert wildcard.crt --key wildcard.key

Running it again applies changed settings (ports, base domain, certificate) and keeps the CA.
`)
    .action(async (options, command: Command) => {
      const { frontdoorInit } = await import('../../frontdoor/commands.js');
      const { renderInit } = await import('../../frontdoor/output.js');
      await withContext(command, (ctx) => frontdoorInit(ctx, { selfSigned: options.selfSigned, cert: options.cert, key: options.key, acme: options.acme }), renderInit);
    });

  frontdoor
    .command('status')
    .description('containers, live generation, last sync, certificates with expiry dates, routed tenants')
    .addHelpText('after', `
Examples:
  $ tenantctl frontdoor status
  $ tenantctl frontdoor status --json | jq '.certificates[] | {role, notAfter}'
`)
    .action(async (_options, command: Command) => {
      const { frontdoorStatus } = await import('../../frontdoor/commands.js');
      const { renderStatus } = await import('../../frontdoor/output.js');
      await withContext(command, (ctx) => frontdoorStatus(ctx), renderStatus);
    });

  frontdoor
    .command('reload')
    .description('render the configuration from the registry, test it (nginx -t), make it live and reload nginx')
    .addHelpText('after', `
Examples:
  $ tenantctl frontdoor reload

A configuration nginx -t refuses never goes live (exit 11); when it is one tenant's (its snippet or
certificate), that tenant keeps its last good configuration and the others' changes go live.
`)
    .action(async (_options, command: Command) => {
      const { frontdoorReload } = await import('../../frontdoor/commands.js');
      const { renderReload } = await import('../../frontdoor/output.js');
      await withContext(command, (ctx) => frontdoorReload(ctx), renderReload);
    });

  frontdoor
    .command('renew')
    .description('ACME: renew certificates with a third of their lifetime left, issue missing ones, revoke removed domains\' ones; one reload')
    .option('--force', 'renew every certificate now, and retry failed ones before their backoff is over')
    .addHelpText('after', `
Examples:
  $ tenantctl frontdoor renew
  $ tenantctl frontdoor renew --json | jq '.renewed, .failed'

Run it daily (the agent does): a certificate renews once a third of its lifetime is left (up to a
tenth of that earlier, spread by host name). A failure backs off (5 min doubling to a day, or the
CA's Retry-After) and is shown by frontdoor status; any failure makes renew exit 9 after the rest.
`)
    .action(async (options, command: Command) => {
      const { frontdoorRenew } = await import('../../frontdoor/commands.js');
      const { renderRenew } = await import('../../frontdoor/output.js');
      await withContext(command, (ctx) => frontdoorRenew(ctx, { force: options.force }), renderRenew);
    });

  frontdoor
    .command('down')
    .description('stop and remove the front door\'s containers; tenants stay reachable on their ports')
    .action(async (_options, command: Command) => {
      const { frontdoorDownCommand } = await import('../../frontdoor/commands.js');
      const { renderDown } = await import('../../frontdoor/output.js');
      await withContext(command, (ctx) => frontdoorDownCommand(ctx), renderDown);
    });
}
