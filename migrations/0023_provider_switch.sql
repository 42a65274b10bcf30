-- Provider switching (issue 14, seed 002 `provider_migrations`): a tenant moves a
-- WhatsApp number from Meta's Cloud API to 360dialog's hosted Cloud API (or back)
-- behind the outbox, without losing queued messages. DECISIONS §43.

-- Which API sends for the number. `access_token` stays Meta's token in both cases: it
-- is what proves the number belongs to the tenant's WABA when the number is saved
-- again (0009). A 360dialog number also has its channel's API key, sealed the same way
-- (bound to its column and row).
ALTER TABLE wa_phone_numbers
    ADD COLUMN provider text NOT NULL DEFAULT 'META_CLOUD'
        CHECK (provider IN ('META_CLOUD', 'DIALOG360')),
    ADD COLUMN d360_api_key bytea,
    ADD CONSTRAINT wa_phone_numbers_provider_key
        CHECK ((provider = 'DIALOG360') = (d360_api_key IS NOT NULL));

-- MIGRATING: a switch holds the number's outbox rows (claim_outbox below skips them)
-- while the provider changes under it. Like PAUSED, the scheduler keeps its leads
-- waiting rather than moving them to another number.
ALTER TABLE wa_phone_numbers DROP CONSTRAINT wa_phone_numbers_status_check;
ALTER TABLE wa_phone_numbers ADD CONSTRAINT wa_phone_numbers_status_check
    CHECK (status IN ('ACTIVE', 'PAUSED', 'OFFLINE', 'BANNED', 'RECONNECTING', 'MIGRATING'));
-- So a claim learns in one probe whether a tenant has a number being switched.
CREATE INDEX wa_phone_numbers_migrating ON wa_phone_numbers (tenant_id) WHERE status = 'MIGRATING';

CREATE TABLE provider_migrations (
    tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id             uuid NOT NULL,
    phone_id       uuid NOT NULL,
    -- Seed 002 also names voip; only WhatsApp numbers exist here.
    migration_type text NOT NULL DEFAULT 'WHATSAPP' CHECK (migration_type = 'WHATSAPP'),
    from_provider  text NOT NULL CHECK (from_provider IN ('META_CLOUD', 'DIALOG360')),
    to_provider    text NOT NULL CHECK (to_provider IN ('META_CLOUD', 'DIALOG360')),
    status         text NOT NULL DEFAULT 'PENDING'
                   CHECK (status IN ('PENDING', 'IN_PROGRESS', 'COMPLETED', 'FAILED')),
    -- The next step the worker runs: VERIFY the new credential, DRAIN the sends in
    -- flight, SWAP; DONE once finished either way.
    step           text NOT NULL DEFAULT 'VERIFY' CHECK (step IN ('VERIFY', 'DRAIN', 'SWAP', 'DONE')),
    -- The new provider's credential, sealed (crypto::seal_field, this column and row).
    new_credential bytea NOT NULL,
    -- The number's provider settings before the swap, sealed JSON, for a rollback.
    backup_data    bytea,
    -- The number's status (and its reason) when it was put on hold; it gets them back
    -- at the end, whichever way the switch ends.
    prior_status   text,
    prior_reason   text,
    -- Each step as it happened: [{step, outcome, at, detail}].
    steps          jsonb NOT NULL DEFAULT '[]',
    error          text,
    started_by     uuid,
    -- A worker holds the migration until then; due_at is when it is next looked at.
    leased_until   timestamptz,
    due_at         timestamptz NOT NULL DEFAULT now(),
    -- The drain gives up (and the switch fails, rolled back) at this moment.
    drain_deadline timestamptz,
    started_at     timestamptz,
    completed_at   timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (from_provider <> to_provider),
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, phone_id) REFERENCES wa_phone_numbers (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, started_by) REFERENCES memberships (tenant_id, user_id)
);
-- At most one switch under way per number.
CREATE UNIQUE INDEX provider_migrations_open ON provider_migrations (tenant_id, phone_id)
    WHERE status IN ('PENDING', 'IN_PROGRESS');
CREATE INDEX provider_migrations_phone ON provider_migrations (tenant_id, phone_id, created_at DESC);
CREATE INDEX provider_migrations_due ON provider_migrations (due_at)
    WHERE status IN ('PENDING', 'IN_PROGRESS');

ALTER TABLE provider_migrations ENABLE ROW LEVEL SECURITY;
ALTER TABLE provider_migrations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON provider_migrations USING (tenant_id = (SELECT app_tenant()))
    WITH CHECK (tenant_id = (SELECT app_tenant()));
CREATE POLICY definer_outreach ON provider_migrations TO CURRENT_USER USING (true) WITH CHECK (true);

-- Open migrations that are due, across tenants, leased to the caller for a minute; the
-- caller runs the next step in the migration's tenant.
CREATE FUNCTION claim_provider_migrations(p_limit integer) RETURNS TABLE (tenant_id uuid, id uuid)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    UPDATE provider_migrations m SET leased_until = now() + interval '1 minute'
      FROM (SELECT x.id FROM provider_migrations x
             WHERE x.status IN ('PENDING', 'IN_PROGRESS') AND x.due_at <= now()
               AND (x.leased_until IS NULL OR x.leased_until < now())
             ORDER BY x.due_at
             FOR UPDATE SKIP LOCKED
             LIMIT least(greatest(p_limit, 1), 100)) due
     WHERE m.id = due.id
    RETURNING m.tenant_id, m.id
$$;
REVOKE ALL ON FUNCTION claim_provider_migrations(integer) FROM PUBLIC;

-- 0012's claim, which now leaves alone the rows of numbers being switched. Only tenants
-- with such a number (one partial-index probe each) pay for the per-row check.
CREATE OR REPLACE FUNCTION claim_outbox(p_limit integer) RETURNS TABLE (tenant_id uuid, message_id uuid, attempts integer)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH RECURSIVE tenants AS (
        (SELECT o.tenant_id FROM outbox o ORDER BY o.tenant_id LIMIT 1)
        UNION ALL
        SELECT (SELECT o.tenant_id FROM outbox o WHERE o.tenant_id > t.tenant_id
                 ORDER BY o.tenant_id LIMIT 1)
          FROM tenants t
         WHERE t.tenant_id IS NOT NULL
    ),
    waiting AS (
        SELECT t.tenant_id,
               EXISTS (SELECT 1 FROM wa_phone_numbers p
                        WHERE p.tenant_id = t.tenant_id AND p.status = 'MIGRATING') AS migrating
          FROM tenants t
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
                  AND (NOT w.migrating OR NOT EXISTS (
                        SELECT 1 FROM messages m JOIN wa_phone_numbers p ON p.id = m.phone_id
                         WHERE m.id = x.message_id AND p.status = 'MIGRATING'))
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
