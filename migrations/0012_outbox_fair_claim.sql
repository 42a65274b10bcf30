-- A claim takes its rows tenant by tenant: every tenant with due rows gets an equal
-- share of the claim (the limit over the number of such tenants), oldest due first
-- within its share. Before this, one tenant's backlog of 100,000 filled every claim
-- and a tenant with ten messages waited behind all of it. A share a tenant does not
-- fill is left for the next claim rather than handed to a bigger tenant, which keeps
-- the claim to one short index range per tenant.
CREATE INDEX outbox_tenant_due ON outbox (tenant_id, due_at) WITH (deduplicate_items = off);

CREATE OR REPLACE FUNCTION claim_outbox(p_limit integer) RETURNS TABLE (tenant_id uuid, message_id uuid, attempts integer)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    -- The tenants with rows in the outbox, one index probe each (a loose index scan).
    WITH RECURSIVE tenants AS (
        (SELECT o.tenant_id FROM outbox o ORDER BY o.tenant_id LIMIT 1)
        UNION ALL
        SELECT (SELECT o.tenant_id FROM outbox o WHERE o.tenant_id > t.tenant_id
                 ORDER BY o.tenant_id LIMIT 1)
          FROM tenants t
         WHERE t.tenant_id IS NOT NULL
    ),
    waiting AS (
        SELECT t.tenant_id FROM tenants t
         WHERE t.tenant_id IS NOT NULL
           AND EXISTS (SELECT 1 FROM outbox x
                        WHERE x.tenant_id = t.tenant_id AND x.due_at <= now()
                          AND (x.leased_until IS NULL OR x.leased_until < now()))
    ),
    share AS (
        SELECT ceil(least(greatest(p_limit, 1), 5000)::numeric
                    / greatest(count(*), 1))::integer AS rows_each
          FROM waiting
    ),
    due AS (
        SELECT d.message_id
          FROM waiting w
         CROSS JOIN share s
         CROSS JOIN LATERAL (
               SELECT x.message_id FROM outbox x
                WHERE x.tenant_id = w.tenant_id AND x.due_at <= now()
                  AND (x.leased_until IS NULL OR x.leased_until < now())
                ORDER BY x.due_at
                LIMIT s.rows_each
                FOR UPDATE SKIP LOCKED) d
    )
    UPDATE outbox o SET leased_until = now() + interval '2 minutes', attempts = o.attempts + 1
      FROM due
     WHERE o.message_id = due.message_id
    RETURNING o.tenant_id, o.message_id, o.attempts
$$;
REVOKE ALL ON FUNCTION claim_outbox(integer) FROM PUBLIC;
