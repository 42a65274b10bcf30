-- What a worker exports about the outbox as a whole: how many messages wait and how
-- long the oldest due one has waited. It spans tenants, so like claim_outbox() it runs
-- as the migrating role; it returns two numbers and no row of anyone's.
CREATE FUNCTION outbox_stats(OUT depth bigint, OUT lag_seconds float8)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT count(*),
           coalesce(extract(epoch FROM now() - min(due_at) FILTER (WHERE due_at <= now())), 0)::float8
      FROM outbox
$$;
REVOKE ALL ON FUNCTION outbox_stats() FROM PUBLIC;
