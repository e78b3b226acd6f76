import path from 'node:path';
import type { Config } from '../config/schema.js';
import type { LoginRole } from '../secrets/login-role.js';

// Where an agent keeps its files on this machine: <stateDir>/agent/<project>/ (a project each, so a
// second agent of the same host, e.g. a test's, has its own):
//
//   docker-compose.yml   the agent's compose project (agent.project)
//   config.yaml          the agent's configuration, with its own admin database URL (0600; mounted read-only)
//   state/               the agent's state dir (its compose children's records)
//   master.key           only when the key comes from TENANTCTL_MASTER_KEY (0600): the agent reads it from a file
//
// Its database password is <stateDir>/agent-db.env (0600), one per state dir like gateway-db.env.

export interface AgentLayout {
  root: string;
  composeFile: string;
  configFile: string;
  stateDir: string;
  masterKeyCopy: string;
}

export function agentLayout(config: Pick<Config, 'stateDir' | 'agent'>): AgentLayout {
  const root = path.join(config.stateDir, 'agent', config.agent.project);
  return {
    root,
    composeFile: path.join(root, 'docker-compose.yml'),
    configFile: path.join(root, 'config.yaml'),
    stateDir: path.join(root, 'state'),
    masterKeyCopy: path.join(root, 'master.key'),
  };
}

export const agentRole: LoginRole = {
  role: 'tenantctl_agent',
  file: 'agent-db.env',
  passwordKey: 'TENANTCTL_AGENT_DB_PASSWORD',
  header: 'tenantctl agent login to the admin database; keep private',
  migration: '017_agent_schedules.sql',
  setupCommand: 'tenantctl agent up',
  requiredFunctions: [
    { signature: 'admin_last_admin_backup()', migration: '029', why: 'the admin.backup-missed alert and the admin backup\'s age metric read' },
  ],
};

export const agentLabel = 'tenantctl.agent';
/** Where the agent's image has tenantctl (package.json, bin/, dist/, scripts/, templates/). */
export const imagePackageRoot = '/opt/tenantctl';
export const agentContainer = (config: Pick<Config, 'agent'>) => config.agent.project;
export const metricsUrlOf = (config: Pick<Config, 'agent'>) => `http://127.0.0.1:${config.agent.port}/metrics`;
