import type { ComposeFlavour } from '../stack/compose-argv.js';

export interface ManifestInput {
  id: string;
  name: string;
  plan: string;
  project: string;
  appUrl: string;
  bindAddress: string;
  ports: { app: number; db: number; redis: number };
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
| App URL | ${m.appUrl} |
| Health | ${m.appUrl}/api/health |
| Compose project | \`${m.project}\` |
| Network subnet | ${m.subnet} |

## Ports (bound to ${m.bindAddress})

| Service | Host port | Container port |
|---|---|---|
| app | ${m.ports.app} | 3000 |
| db (PostgreSQL, database \`tenant\`) | ${m.ports.db} | 5432 |
| redis | ${m.ports.redis} | 6379 |

Passwords are in \`${m.envFile}\` (mode 0600), never in this file.
The app connects to its database as \`tenant_app\`, which is neither superuser nor table owner,
so row-level security applies to it.

## Useful commands

\`\`\`sh
tenantctl status ${m.id}
${base} ps
${base} logs -f app worker
tenantctl deprovision ${m.id}
\`\`\`
`;
}
