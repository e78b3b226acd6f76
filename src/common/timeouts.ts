// Every external call has a bound, named here so a reader knows what each one is for and an
// operator reading a timeout message knows which knob it was. Values in milliseconds.

/** One docker CLI query (ps, inspect, network ls): answers in well under a second on a sane host. */
export const dockerQueryTimeoutMs = 30_000;
/** Detecting which compose is installed (`docker compose version`). */
export const composeDetectTimeoutMs = 10_000;
/** `compose down` of one tenant, containers given 10 s to stop. */
export const composeDownTimeoutMs = 120_000;
/**
 * After `compose down`, removing what still carries the project's label, again while something is
 * left: objects a killed run's compose asked for just before it ended can land meanwhile.
 */
export const leftoverRemovalMs = 15_000;
/** `compose up` of the local admin database (its image is local; this is start-up, not a pull). */
export const adminDbUpTimeoutMs = 120_000;
/** One connection attempt of a readiness probe (PostgreSQL login, Redis AUTH). */
export const probeConnectTimeoutMs = 5_000;
/** Connecting to the admin database; busy hosts answer slowly, so this is generous. */
export const adminDbConnectTimeoutMs = 10_000;
/** How long to keep trying to connect to the admin database before giving up (exit 8); config adminDatabase.patienceSeconds. */
export const adminDbPatienceMs = 30_000;
/** Extra time `compose up` of a tenant gets beyond the readiness deadline. */
export const composeUpGraceMs = 120_000;
/** `compose stop` / `compose restart` of one tenant: containers get 10 s each to stop, in parallel. */
export const composeStopTimeoutMs = 120_000;
/** `compose start` of one tenant's existing containers (readiness is waited for separately). */
export const composeStartTimeoutMs = 120_000;
/** `compose logs` without --follow: the logs are bounded (json-file, 3 x 10 MB per container). */
export const composeLogsTimeoutMs = 300_000;
/** `docker stats --no-stream`: Docker samples every container twice, about 2 s, slower on a busy host. */
export const dockerStatsTimeoutMs = 60_000;
/** After a timeout or Ctrl-C, how long a child gets between SIGTERM and SIGKILL. */
export const killGraceMs = 5_000;
/** After SIGKILL, how long to wait for a child's processes to be gone (one in uninterruptible I/O dies only when that I/O returns). */
export const killWaitMs = 10_000;
/**
 * A compose left running by a tenantctl that was killed: how long it gets to end by itself before
 * SIGTERM. It ends at its next line of output (its output pipe went with tenantctl), once the
 * engine has answered what it asked: a busy engine's slowest create or start.
 */
export const orphanEndWaitMs = 10_000;
/** `pg_dump` / `pg_restore` of one tenant database, streamed to or from a file: large databases take long. */
export const dumpRestoreTimeoutMs = 6 * 60 * 60_000;
/** Redis BGSAVE of one tenant (its maxmemory is at most a few hundred MB): waited for through retry.ts. */
export const redisSnapshotTimeoutMs = 10 * 60_000;
/** Copying a Redis snapshot out of, or into, a tenant's volume. */
export const redisCopyTimeoutMs = 10 * 60_000;
/** After stopping a tenant's services, how long the engine may take to release their published ports before starting them again. */
export const portReleaseGraceMs = 30_000;
/** Front door: `nginx -t` of a candidate configuration (thousands of server blocks take seconds). */
export const frontdoorTestTimeoutMs = 60_000;
/** Front door: after a reload, how long nginx gets to serve the new generation before tenantctl says it did not. */
export const frontdoorReloadDeadlineMs = 20_000;
/** Front door: `compose up` of nginx and the gateway, and their readiness. */
export const frontdoorUpTimeoutMs = 120_000;
/** Front door: waiting for another tenantctl process's reload (they are serialised) before giving up. */
export const frontdoorLockWaitMs = 120_000;
/** Front door: openssl making the development CA or a certificate, in the nginx image. */
export const frontdoorOpensslTimeoutMs = 60_000;
/** Fleet: does a registered Docker host answer (`docker info`)? Short, so an unreachable host is reported quickly. */
export const hostProbeTimeoutMs = 5_000;
/**
 * Fleet: learning an engine's own ID (`GET /info` over the local socket, else `docker info`) to tell
 * which host names are one engine. Longer than hostProbeTimeoutMs: a provision asks it, and a busy
 * host must make that slower, not failed.
 */
export const engineIdTimeoutMs = 30_000;
/** ssh: opening this command's master connection to an ssh:// engine (a login; ssh's own ConnectTimeout is 30 s). */
export const sshMasterTimeoutMs = 45_000;
/** ssh: ending this command's master connection to an ssh:// engine (`ssh -O exit`, a local socket call). */
export const sshExitTimeoutMs = 5_000;
/** Copying images to a remote engine (`docker save | docker load`): hundreds of MB over the network. */
export const imageShipTimeoutMs = 20 * 60_000;
/** Shipping a tenant's files (secrets, initdb) into volumes on a remote engine through a helper container. */
export const remoteFilesTimeoutMs = 120_000;
/** Swarm: `docker stack deploy` / `docker stack rm` of one tenant (services are created, not yet running). */
export const stackDeployTimeoutMs = 120_000;
/** One helper container measuring every tenant volume of a host with du (src/quota/volume-usage.ts): it walks their files. */
export const volumeUsageTimeoutMs = 120_000;
/** `docker build` of the agent's image (the CLI bundle copied onto agent.baseImage: seconds, unless the engine is busy). */
export const agentImageBuildTimeoutMs = 5 * 60_000;
/** `agent up`/`agent down`: compose brings the agent's one container up or removes it, and the agent answers /healthz. */
export const agentUpTimeoutMs = 120_000;
/** ACME: one HTTP request to the ACME server (directory, order, challenge, finalize, download). */
export const acmeRequestTimeoutMs = 30_000;
/** ACME: one certificate from order to download (the CA validates the challenges meanwhile). */
export const acmeIssueDeadlineMs = 180_000;
/** ACME: the reachability check's DNS look-up and its HTTP fetch of the check token, each. */
export const acmeReachabilityTimeoutMs = 10_000;
/** ACME: the operator's DNS-01 hook (set or unset one TXT record). */
export const acmeDnsHookTimeoutMs = 120_000;
/** Resolving a webhook endpoint's host name (alerts add, and before each delivery): the SSRF check. */
export const webhookResolveTimeoutMs = 5_000;
/** restic: a question to the backup repository (init, snapshots, stats, cat config, unlock): remote, so generous. */
export const resticQueryTimeoutMs = 5 * 60_000;
/** restic: a dump streamed into the repository (`backup --stdin`) or out of it (`dump`): as long as a pg_dump/pg_restore. */
export const resticStreamTimeoutMs = 6 * 60 * 60_000;
/** Stopping a file-level backup's helper container (SIGINT, then its exit waited for). */
export const resticHelperStopTimeoutMs = 60_000;
/** restic: `check` of the whole repository (reads its structure; --read-data is not run by tenantctl). */
export const resticCheckTimeoutMs = 60 * 60_000;
/** restic: `forget --prune` of one tenant's snapshots (prune rewrites packs: minutes on a large repository). */
export const resticForgetTimeoutMs = 60 * 60_000;
/** The admin database dumped into the repository, or restored from it (pg_dump | restic backup, restic dump | psql). */
export const adminDumpTimeoutMs = 60 * 60_000;
/** restic: how long a command waits, retrying with backoff, for another restic's lock on the repository (a backup of another tenant, a prune) to go. */
export const resticLockWaitMs = 10 * 60_000;
/** recover's fit check: `df` of the Docker root in a throwaway container (the image pulled first if the host lacks it). */
export const recoverFitCheckTimeoutMs = 120_000;
