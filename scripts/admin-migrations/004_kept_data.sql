-- Whether a tenant's data volumes (and the passwords they need) are being kept: set by
-- `deprovision --keep-data`, kept through failed attempts to bring the data back, cleared when a
-- deprovision removes the data. It used to be a prefix of status_reason, which any new reason
-- could overwrite; a column cannot be lost that way.
ALTER TABLE admin_customers ADD COLUMN kept_data boolean NOT NULL DEFAULT false;
UPDATE admin_customers SET kept_data = true WHERE status_reason LIKE 'data volumes kept%';
