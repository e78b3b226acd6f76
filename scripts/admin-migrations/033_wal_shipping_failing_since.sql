-- Since when a tenant's WAL shipping has been failing (issue 22, pitr.lagging; review of this
-- branch): the agent's lag check compared the bound with the age of the newest shipped segment,
-- which for an idle tenant is hours old whatever happens, and for a busy one says nothing of how
-- long shipping has failed. The first failure's time is kept here: set by the first recorded
-- failure after a success, kept while failures follow, cleared by a success. A trigger, so every
-- writer of the row (the agent's shipper, an operator's `pitr ship`) keeps it alike, with the
-- database's clock.
ALTER TABLE public.admin_wal_shipping ADD COLUMN failing_since timestamptz;
-- A row failing now: since its last record at the latest (the best known, before the trigger).
UPDATE public.admin_wal_shipping SET failing_since = checked_at WHERE last_error IS NOT NULL;

CREATE FUNCTION public.admin_wal_shipping_failing_since() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp
  AS $$
BEGIN
  IF NEW.last_error IS NULL THEN
    NEW.failing_since := NULL;
  ELSIF TG_OP = 'UPDATE' AND OLD.last_error IS NOT NULL AND OLD.failing_since IS NOT NULL THEN
    NEW.failing_since := OLD.failing_since;
  ELSE
    NEW.failing_since := now();
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER admin_wal_shipping_failing_since BEFORE INSERT OR UPDATE ON public.admin_wal_shipping
  FOR EACH ROW EXECUTE FUNCTION public.admin_wal_shipping_failing_since();
