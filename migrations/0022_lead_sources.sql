-- Integration connections (seed 001 integration connections, seed 002 marketing lead
-- integrations, seed 004 integration webhook logs): for now, a website's form posting
-- signed submissions that become leads with their source and campaign.

ALTER TABLE leads ADD COLUMN campaign text CHECK (length(campaign) <= 200);

CREATE TABLE integration_connections (
    tenant_id          uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id                 uuid NOT NULL PRIMARY KEY,
    provider           text NOT NULL CHECK (provider IN ('WEB_FORM')),
    name               text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    -- What each lead's `source` says.
    lead_source        text NOT NULL CHECK (length(lead_source) BETWEEN 1 AND 100),
    -- The endpoint's path segment, found before the tenant is known.
    public_id          text NOT NULL UNIQUE CHECK (public_id ~ '^form_[0-9a-f]{24}$'),
    -- The `whsec_` key submissions are signed with, sealed with the app key.
    credentials_sealed bytea NOT NULL,
    status             text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'PAUSED')),
    events_count       bigint NOT NULL DEFAULT 0,
    last_event_at      timestamptz,
    last_error         text,
    last_error_at      timestamptz,
    created_by         uuid REFERENCES users (id),
    created_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id)
);

-- Each submission once: a sender's retry with the same `webhook-id` changes nothing.
CREATE TABLE integration_events (
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    connection_id uuid NOT NULL,
    event_id      text NOT NULL CHECK (length(event_id) BETWEEN 1 AND 200),
    lead_id       uuid,
    outcome       text NOT NULL CHECK (outcome IN ('CREATED', 'MATCHED')),
    received_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, event_id),
    FOREIGN KEY (tenant_id, connection_id) REFERENCES integration_connections (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX integration_events_recent ON integration_events (tenant_id, connection_id, received_at DESC);

DO $$
DECLARE t text;
BEGIN
    FOR t IN SELECT unnest(ARRAY['integration_connections', 'integration_events'])
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = (SELECT app_tenant())) '
                       'WITH CHECK (tenant_id = (SELECT app_tenant()))', t);
    END LOOP;
END $$;
CREATE POLICY definer_connections ON integration_connections TO CURRENT_USER USING (true);

-- The connection behind a public id, before any tenant is set; its signature is
-- checked by the caller.
CREATE FUNCTION integration_lookup(p_public_id text)
RETURNS TABLE (tenant_id uuid, id uuid, credentials_sealed bytea, status text, lead_source text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT c.tenant_id, c.id, c.credentials_sealed, c.status, c.lead_source
      FROM integration_connections c JOIN tenants t ON t.id = c.tenant_id
     WHERE c.public_id = p_public_id AND t.status = 'ACTIVE'
$$;
REVOKE ALL ON FUNCTION integration_lookup(text) FROM PUBLIC;
