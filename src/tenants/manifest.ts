import type { ComposeFlavour } from '../stack/compose-argv.js';

export interface ManifestInput {
  id: string;
  name: string;
  plan: string;
  project: string;
  /** The app's own address (the template's front door port), if it has one. */
  appUrl: string | null;
  template: string;
  /** Its address through the front door (routed once `tenantctl frontdoor init` has run on this host). */
  doorUrl: string;
  bindAddress: string;
  /** The template's host ports by name, with the service and container port each goes to. */
  ports: Array<{ name: string; service: string; host: number; container: number; published: boolean }>;
  subnet: string;
  composeFile: string;
  envFile: string;
  flavour: ComposeFlavour;
}

/** CUSTOMER_MANIFEST.md: what an operator needs to find and reach the tenant. Never any secret. */
export function renderManifest(m: ManifestInput): string {
  const compose = m.flavour === 'v2' ? 'docker compose' : 'docker-compose';
  const base = `${compose} -p ${m.project} -f ${m.composeFile} --env-file ${m.envFile}`;
  return `# ${m.name} (${m.id})

| | |
|---|---|
| Plan | ${m.plan} |
| Template | ${m.template} |
${m.appUrl === null ? '' : `| URL (front door) | ${m.doorUrl} (once \`tenantctl frontdoor init\` has run on this host) |
| App URL (direct) | ${m.appUrl} |
${m.template === 'crm' ? `| Health | ${m.appUrl}/api/health |\n` : ''}`}| Compose project | \`${m.project}\` |
| Network subnet | ${m.subnet} |

## Ports (bound to ${m.bindAddress})

| Port | Service | Host port | Container port |
|---|---|---|---|
${m.ports.map((p) => `| ${p.name} | ${p.service} | ${p.published ? p.host : `${p.host} (not published)`} | ${p.container} |`).join('\n')}
${m.ports.some((p) => !p.published) ? `
A port marked "not published" is reserved but not published on this host (a remote host or a swarm
publishes the front door's port only): tenantctl reaches it through the engine (\`tenantctl psql\`,
\`tenantctl redis-cli\`, \`tenantctl exec\`).
` : ''}
Secrets are in \`secrets/\` beside this file (one file each, mode 0600, folder 0700), never in this
file or \`.env\`; \`tenantctl secrets ${m.id}\` shows them.
The app connects to its database as \`tenant_app\`, which is neither superuser nor table owner,
so row-level security applies to it.

## Commands

\`\`\`sh
tenantctl status ${m.id}                      # record, URL, each service's state
tenantctl logs ${m.id} --follow               # --service app|worker|db|redis, --since 10m, --tail 100
tenantctl psql ${m.id}                        # SQL shell as tenant_owner; --as app for tenant_app
tenantctl redis-cli ${m.id}
tenantctl exec ${m.id} app -- sh              # any command in a service's container
tenantctl restart ${m.id} --service app       # restart, and wait until ready
tenantctl stop ${m.id}                        # containers stopped and kept; tenantctl start ${m.id}
tenantctl stats ${m.id}                       # CPU, memory, network, disk per service
tenantctl deprovision ${m.id}
\`\`\`

## Compose by hand

From this folder, compose finds the stack by itself: \`.env\` names the project
(\`COMPOSE_PROJECT_NAME=${m.project}\`).

\`\`\`sh
${compose} ps
${compose} logs -f app worker
\`\`\`

From anywhere else:

\`\`\`sh
${base} ps
\`\`\`

Change the stack through tenantctl where it has a verb: it keeps the registry (\`stopped\`, \`active\`)
and the audit log in step; compose by hand does not.
`;
}
