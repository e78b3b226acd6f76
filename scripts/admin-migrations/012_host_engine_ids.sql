-- A Docker host's identity is its engine, not its name (review item 4). The name an implicit host
-- gets is TENANTCTL_HOST_ID, else the machine's hostname, which changes; and one daemon is reached
-- by its socket, tcp and ssh alike. Two names for one engine made `doctor --fix` take a live
-- tenant's stack for a move's leftovers (its row named "another" host) and remove its containers.
--
-- engine_id is the engine's own ID (`docker info` .ID, kept in its /var/lib/docker/engine-id):
-- `hosts add` records the one it probes, and an implicit host gets it the first time a tenant is
-- reserved on it (src/allocation/reserve.ts). NULL: not learned yet (hosts from before this
-- migration, implicit hosts nothing was reserved on since), which doctor treats as unknown, never
-- as "another engine".
ALTER TABLE admin_hosts ADD COLUMN engine_id text CHECK (engine_id <> '');

-- One engine, one name: among the hosts of the fleet. A removed host keeps its row (and its ID) as
-- history for the deprovisioned tenants that name it; its engine may be registered again under a
-- new name.
CREATE UNIQUE INDEX admin_hosts_engine_id_idx ON admin_hosts (engine_id) WHERE state <> 'removed';
