// A tenant's PostgreSQL where its host does not publish it (a remote engine, a swarm node: only the
// front door's port is published there): a pg client through the same `docker exec` relay tenantctl
// uses (src/engine/exec-tunnel.ts), into the service's container on that engine. Ending the client
// closes the relay.
import pg from 'pg';
import { DockerHost, parseDockerEndpoint } from '../../src/engine/docker-host.js';
import { openExecTunnel } from '../../src/engine/exec-tunnel.js';

export interface DbLogin {
  user: string;
  password: string;
  database: string;
}

/** `engine`: tcp://<address>:2375 of the test engine holding the container. */
export async function tenantDbThroughEngine(engine: string, where: { project: string; service: string; port?: number }, login: DbLogin): Promise<pg.Client> {
  const host = new DockerHost('test engine', parseDockerEndpoint(engine));
  const find = async () => (await host.docker(['ps', '-q', '--filter', `label=com.docker.compose.project=${where.project}`, '--filter', `label=com.docker.compose.service=${where.service}`, '--filter', 'status=running'])).split('\n')[0]?.trim() || undefined;
  const tunnel = await openExecTunnel(host, find, where.port ?? 5432);
  const client = new pg.Client({ host: tunnel.host, port: tunnel.port, ...login, connectionTimeoutMillis: 10_000 });
  const end = client.end.bind(client);
  (client as { end: () => Promise<void> }).end = async () => {
    await end().catch(() => {});
    await tunnel.close();
  };
  try {
    await client.connect();
  } catch (error) {
    await client.end();
    throw error;
  }
  return client;
}
