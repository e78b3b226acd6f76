-- The address a remote host publishes its tenants' front-door port on (hosts add --publish-address):
-- Docker's published ports bypass the host's INPUT-chain firewall, so 0.0.0.0 is never a silent
-- default. NULL: the IP literal of the host's engine URL (tcp://10.0.0.5:2376 -> 10.0.0.5).
ALTER TABLE admin_hosts ADD COLUMN publish_address text;
