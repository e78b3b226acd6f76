import type { Command } from 'commander';
import { withContext } from '../run.js';

// `tenantctl templates list | show <name> | validate <file-or-dir>`: the stacks tenantctl can
// provision (docs/templates.md). Offline: no Docker, no admin database.

export function define(command: Command): void {
  const templates = command.addHelpText('after', `
Examples:
  $ tenantctl templates list
  $ tenantctl templates show frontbase --json
  $ tenantctl templates validate ./my-stack/

Shipped templates are in tenantctl's templates/<name>/; your own go in templates.directory
(TENANTCTL_TEMPLATES_DIR), one folder each. docs/templates.md describes the x-tenantctl block.
`);

  templates
    .command('list')
    .description('list the templates by name: shipped and your own (templates.directory), with their ports and profiles')
    .addHelpText('after', `
Examples:
  $ tenantctl templates list
  $ tenantctl templates list --json | jq -r '.templates[].name'
`)
    .action(async (_options, command: Command) => {
      const { templatesList } = await import('../../templates/commands.js');
      const { renderTemplatesList } = await import('../../templates/render.js');
      await withContext(command, (ctx) => templatesList(ctx), renderTemplatesList);
    });

  templates
    .command('show')
    .description('show a template\'s x-tenantctl block: ports, secrets, readiness, migrations, profiles, variables')
    .argument('<name>', 'template name (tenantctl templates list)')
    .addHelpText('after', `
Examples:
  $ tenantctl templates show crm
  $ tenantctl templates show frontbase --json | jq .block.profiles
`)
    .action(async (name: string, _options, command: Command) => {
      const { templatesShow } = await import('../../templates/commands.js');
      const { renderTemplateShow } = await import('../../templates/render.js');
      await withContext(command, (ctx) => templatesShow(ctx, { name }), renderTemplateShow);
    });

  templates
    .command('validate')
    .description('check a template folder or compose file offline: its block, and its render with sample values (exit 2 with path: message lines)')
    .argument('<file-or-dir>', 'a template folder (with docker-compose.tenant.yml) or a compose file with an x-tenantctl block')
    .addHelpText('after', `
Examples:
  $ tenantctl templates validate ./my-stack/
  $ tenantctl templates validate ./my-stack/docker-compose.tenant.yml --json

Exit 0 when valid; 2 with one "path: message" line per problem on stderr (in --json, error.details).
`)
    .action(async (location: string, _options, command: Command) => {
      const { templatesValidate } = await import('../../templates/commands.js');
      const { renderTemplateValidation } = await import('../../templates/render.js');
      await withContext(command, (ctx) => templatesValidate(ctx, { location }), renderTemplateValidation);
    });
}
