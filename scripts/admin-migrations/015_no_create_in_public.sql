-- PostgreSQL 14 and older let PUBLIC create objects in schema public, the schema the owner's
-- search_path reads: the internet-facing gateway role (014) must not be able to plant tables or
-- functions there that the owner's queries would then use. (PostgreSQL 15 revokes it already.)
-- A user that does not own the schema gets a warning, not an error: `frontdoor init` then refuses
-- the gateway role while it can still create there (src/frontdoor/gateway-role.ts).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
