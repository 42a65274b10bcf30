-- Facebook Lead Ads as a lead source (DECISIONS 42): a connection per Page, with the
-- tenant's own Meta app secret (the `X-Hub-Signature-256` key) and a Page access
-- token (to read each lead from the Graph API), both sealed with the app key.
-- Meta's notification names a lead; the lead itself is fetched after the answer,
-- with retries, so `integration_events` becomes a small queue for this provider.

ALTER TABLE integration_connections DROP CONSTRAINT integration_connections_provider_check;
ALTER TABLE integration_connections ADD CONSTRAINT integration_connections_provider_check
    CHECK (provider IN ('WEB_FORM', 'FACEBOOK_LEADS'));
ALTER TABLE integration_connections DROP CONSTRAINT integration_connections_public_id_check;
ALTER TABLE integration_connections ADD CONSTRAINT integration_connections_public_id_check
    CHECK (public_id ~ '^(form|fb)_[0-9a-f]{24}$');
ALTER TABLE integration_connections
    -- The Facebook Page whose leads this connection takes; changes for other Pages are ignored.
    ADD COLUMN page_id      text CHECK (page_id ~ '^[0-9]{1,30}$'),
    -- What Meta sends as `hub.verify_token` when the callback is subscribed: not a
    -- credential (it only confirms the admin pasted the right URL), shown on the card.
    ADD COLUMN verify_token text CHECK (length(verify_token) BETWEEN 16 AND 100),
    -- The Page access token, sealed with the app key (`credentials_sealed` holds the app secret).
    ADD COLUMN token_sealed bytea,
    ADD CONSTRAINT integration_connections_facebook_check
        CHECK (provider <> 'FACEBOOK_LEADS'
               OR (page_id IS NOT NULL AND verify_token IS NOT NULL AND token_sealed IS NOT NULL));

-- A Facebook event is PENDING until its lead is fetched and filed (DONE), or FAILED
-- for good; web form events are filed as they arrive, DONE at once.
ALTER TABLE integration_events ALTER COLUMN outcome DROP NOT NULL;
ALTER TABLE integration_events
    ADD COLUMN status          text NOT NULL DEFAULT 'DONE' CHECK (status IN ('PENDING', 'DONE', 'FAILED')),
    ADD COLUMN attempts        integer NOT NULL DEFAULT 0,
    ADD COLUMN next_attempt_at timestamptz,
    ADD COLUMN last_error      text CHECK (length(last_error) <= 500),
    -- The notification's change value (form, ad, created time), as received.
    ADD COLUMN payload         jsonb,
    ADD CONSTRAINT integration_events_outcome_check2 CHECK (status <> 'DONE' OR outcome IS NOT NULL),
    ADD CONSTRAINT integration_events_due_check CHECK (status <> 'PENDING' OR next_attempt_at IS NOT NULL);
CREATE INDEX integration_events_due ON integration_events (next_attempt_at) WHERE status = 'PENDING';
CREATE POLICY definer_events ON integration_events TO CURRENT_USER USING (true) WITH CHECK (true);

-- The lookup gains what the Facebook callback needs before the tenant is known.
DROP FUNCTION integration_lookup(text);
CREATE FUNCTION integration_lookup(p_public_id text)
RETURNS TABLE (tenant_id uuid, id uuid, credentials_sealed bytea, status text, lead_source text,
               provider text, page_id text, verify_token text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT c.tenant_id, c.id, c.credentials_sealed, c.status, c.lead_source,
           c.provider, c.page_id, c.verify_token
      FROM integration_connections c JOIN tenants t ON t.id = c.tenant_id
     WHERE c.public_id = p_public_id AND t.status = 'ACTIVE'
$$;
REVOKE ALL ON FUNCTION integration_lookup(text) FROM PUBLIC;

-- Pending events whose time has come, across tenants, for the worker: each is leased
-- (pushed `p_lease_secs` ahead) so a worker that dies mid-fetch lets it come due again.
CREATE FUNCTION integration_claim(p_limit integer, p_lease_secs integer)
RETURNS TABLE (tenant_id uuid, connection_id uuid, event_id text)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH due AS (
        SELECT e.connection_id, e.event_id FROM integration_events e
          JOIN tenants t ON t.id = e.tenant_id AND t.status = 'ACTIVE'
         WHERE e.status = 'PENDING' AND e.next_attempt_at <= now()
         ORDER BY e.next_attempt_at
         FOR UPDATE OF e SKIP LOCKED LIMIT p_limit
    )
    UPDATE integration_events e SET next_attempt_at = now() + make_interval(secs => p_lease_secs)
      FROM due WHERE e.connection_id = due.connection_id AND e.event_id = due.event_id
    RETURNING e.tenant_id, e.connection_id, e.event_id
$$;
REVOKE ALL ON FUNCTION integration_claim(integer, integer) FROM PUBLIC;
