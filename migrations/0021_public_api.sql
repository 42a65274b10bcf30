-- The public API (seeds 001 and 002 api_keys, 002 webhook subscriptions, 004 webhook logs):
-- scoped API keys stored as a prefix and a hash, Stripe-style idempotency keys, a rate
-- limit per key and per plan that holds across instances, and outgoing webhooks
-- written to an outbox in the transaction of the change that caused them.

-- ---------------------------------------------------------------- API keys

-- Requests per minute each plan's tenant may make through the API, all keys together.
ALTER TABLE plans ADD COLUMN api_per_minute integer NOT NULL DEFAULT 60 CHECK (api_per_minute > 0);
UPDATE plans SET api_per_minute = CASE id WHEN 'free' THEN 60 WHEN 'starter' THEN 300
                                          WHEN 'pro' THEN 1200 ELSE 6000 END;

CREATE TABLE api_keys (
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id              uuid NOT NULL PRIMARY KEY,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    -- The public part of the token (`llk_` and 16 hex digits): found before the tenant
    -- is known, so it is unique across tenants.
    prefix          text NOT NULL UNIQUE CHECK (prefix ~ '^llk_[0-9a-f]{16}$'),
    -- SHA-256 of the whole token. The secret half has 256 random bits, so a fast hash
    -- is enough: there is nothing to guess a dictionary word from.
    secret_hash     bytea NOT NULL CHECK (length(secret_hash) = 32),
    scopes          text[] NOT NULL,
    allowed_ips     inet[] NOT NULL DEFAULT '{}',
    per_minute      integer NOT NULL DEFAULT 600 CHECK (per_minute BETWEEN 1 AND 100000),
    expires_at      timestamptz,
    revoked_at      timestamptz,
    -- The key a rotation made; the old one keeps working until its expiry.
    replaced_by     uuid,
    created_by      uuid REFERENCES users (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_used_at    timestamptz,
    last_used_ip    text,
    UNIQUE (tenant_id, id)
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, created_at DESC);

-- Who acted: a member, or one of the tenant's API keys.
ALTER TABLE audit_logs ADD COLUMN actor_api_key_id uuid;

-- The key behind a token's prefix, before any tenant is set. The caller compares the
-- hash (in constant time) and checks expiry, revocation and address itself.
CREATE FUNCTION api_key_lookup(p_prefix text)
RETURNS TABLE (tenant_id uuid, id uuid, name text, secret_hash bytea, scopes text[],
               allowed_ips inet[], per_minute integer, tenant_per_minute integer,
               expires_at timestamptz, revoked_at timestamptz, last_used_at timestamptz,
               last_used_ip text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT k.tenant_id, k.id, k.name, k.secret_hash, k.scopes, k.allowed_ips, k.per_minute,
           coalesce((SELECT p.api_per_minute FROM subscriptions s JOIN plans p ON p.id = s.plan_id
                      WHERE s.tenant_id = k.tenant_id ORDER BY s.created_at DESC LIMIT 1), 60),
           k.expires_at, k.revoked_at, k.last_used_at, k.last_used_ip
      FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
     WHERE k.prefix = p_prefix AND t.status = 'ACTIVE'
$$;
REVOKE ALL ON FUNCTION api_key_lookup(text) FROM PUBLIC;

-- Like rate_limit_hit, but answers what the RateLimit-* headers need: the hits in the
-- current window (this one counted) and the seconds until it ends.
CREATE FUNCTION rate_limit_take(p_bucket text, p_subject text, p_window_secs integer,
                                OUT hits integer, OUT reset_secs integer)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    INSERT INTO rate_limits AS r (bucket, subject, window_start, hits)
    VALUES (p_bucket, p_subject, now(), 1)
    ON CONFLICT (bucket, subject) DO UPDATE
       SET window_start = CASE WHEN r.window_start + make_interval(secs => p_window_secs) <= now()
                               THEN now() ELSE r.window_start END,
           hits = CASE WHEN r.window_start + make_interval(secs => p_window_secs) <= now()
                       THEN 1 ELSE r.hits + 1 END
    RETURNING hits, greatest(1, ceil(extract(epoch FROM
                  window_start + make_interval(secs => p_window_secs) - now()))::integer)
$$;
REVOKE ALL ON FUNCTION rate_limit_take(text, text, integer) FROM PUBLIC;

-- Stripe's semantics: the first request with a key runs; a repeat with the same body
-- gets the stored answer, with another body a 422. `status` is NULL while it runs.
CREATE TABLE api_idempotency (
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    api_key_id   uuid NOT NULL,
    key          text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_hash bytea NOT NULL,
    status       integer,
    response     jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, api_key_id, key),
    FOREIGN KEY (tenant_id, api_key_id) REFERENCES api_keys (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX api_idempotency_age ON api_idempotency (created_at);

-- ---------------------------------------------------------------- outgoing webhooks

CREATE TABLE webhook_endpoints (
    tenant_id            uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id                   uuid NOT NULL PRIMARY KEY,
    url                  text NOT NULL CHECK (url ~ '^https?://' AND length(url) <= 2000),
    description          text NOT NULL DEFAULT '' CHECK (length(description) <= 200),
    event_types          text[] NOT NULL,
    -- The `whsec_` key, sealed with the app key; during a rotation the previous key
    -- signs too, until `previous_until`.
    secret_sealed        bytea NOT NULL,
    previous_sealed      bytea,
    previous_until       timestamptz,
    enabled              boolean NOT NULL DEFAULT true,
    disabled_reason      text,
    consecutive_failures integer NOT NULL DEFAULT 0,
    created_by           uuid REFERENCES users (id),
    created_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id)
);

-- One row per event; its id is the `webhook-id` of every delivery and retry of it.
CREATE TABLE webhook_events (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id         text NOT NULL PRIMARY KEY,
    type       text NOT NULL,
    payload    jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id)
);

CREATE TABLE webhook_deliveries (
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id              uuid NOT NULL PRIMARY KEY,
    endpoint_id     uuid NOT NULL,
    event_id        text NOT NULL,
    status          text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'SUCCEEDED', 'FAILED')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_status     integer,
    last_error      text,
    finished_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id),
    UNIQUE (endpoint_id, event_id),
    FOREIGN KEY (tenant_id, endpoint_id) REFERENCES webhook_endpoints (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, event_id) REFERENCES webhook_events (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'PENDING';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (tenant_id, endpoint_id, created_at DESC);

-- The delivery log: every attempt, with what came back.
CREATE TABLE webhook_attempts (
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id           uuid NOT NULL PRIMARY KEY,
    delivery_id  uuid NOT NULL,
    attempt      integer NOT NULL,
    at           timestamptz NOT NULL DEFAULT now(),
    status       integer,
    error        text,
    body_excerpt text,
    duration_ms  integer NOT NULL,
    FOREIGN KEY (tenant_id, delivery_id) REFERENCES webhook_deliveries (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (tenant_id, delivery_id, attempt);

DO $$
DECLARE t text;
BEGIN
    FOR t IN SELECT unnest(ARRAY['api_keys', 'api_idempotency', 'webhook_endpoints', 'webhook_events',
                                 'webhook_deliveries', 'webhook_attempts'])
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = (SELECT app_tenant())) '
                       'WITH CHECK (tenant_id = (SELECT app_tenant()))', t);
    END LOOP;
END $$;
-- The claim below and the sweep run as the owner across tenants.
CREATE POLICY definer_deliveries ON webhook_deliveries TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY definer_idempotency ON api_idempotency TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY definer_events ON webhook_events TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY definer_attempts ON webhook_attempts TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY definer_keys ON api_keys TO CURRENT_USER USING (true);

-- Due deliveries of every tenant, oldest first, leased for `p_lease_secs`: a worker that
-- dies mid-send lets its deliveries come due again after the lease. The same event id
-- goes out on the retry, so a receiver that already has it can tell.
CREATE FUNCTION webhook_claim(p_limit integer, p_lease_secs integer)
RETURNS TABLE (tenant_id uuid, id uuid)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH due AS (
        SELECT d.id FROM webhook_deliveries d
         WHERE d.status = 'PENDING' AND d.next_attempt_at <= now()
         ORDER BY d.next_attempt_at
         FOR UPDATE SKIP LOCKED LIMIT p_limit
    )
    UPDATE webhook_deliveries d SET next_attempt_at = now() + make_interval(secs => p_lease_secs)
      FROM due WHERE d.id = due.id
    RETURNING d.tenant_id, d.id
$$;
REVOKE ALL ON FUNCTION webhook_claim(integer, integer) FROM PUBLIC;

-- Idempotency keys live 24 hours; finished events and their deliveries 30 days.
CREATE FUNCTION api_sweep(OUT idempotency bigint, OUT events bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    WITH gone AS (DELETE FROM api_idempotency WHERE created_at < now() - interval '24 hours' RETURNING 1)
    SELECT count(*) INTO idempotency FROM gone;
    WITH gone AS (
        DELETE FROM webhook_events e WHERE e.created_at < now() - interval '30 days'
           AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id AND d.status = 'PENDING')
        RETURNING 1)
    SELECT count(*) INTO events FROM gone;
END $$;
REVOKE ALL ON FUNCTION api_sweep() FROM PUBLIC;
INSERT INTO schedules (name, cron) VALUES ('api.sweep', '0 */10 * * * *');

-- Admins hear when an endpoint is switched off after failing again and again.
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check
    CHECK (kind IN ('SEND_FAILED', 'SENDER_PAUSED', 'REPLY', 'REVIEW_ASSIGNED', 'SLA_BREACH', 'JOB_FINISHED',
                    'WEBHOOK_DISABLED'));
