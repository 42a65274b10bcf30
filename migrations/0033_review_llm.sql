-- A tenant's own LLM for replies the built-in classifier is unsure of (issue 11): an
-- OpenAI-compatible chat completions endpoint, its model and key (sealed by the app,
-- bound to this row), the confidence below which a reply is sent, the timeout and
-- the calls allowed per day in the workspace's time zone.
CREATE TABLE review_llm (
    tenant_id    uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    enabled      boolean NOT NULL DEFAULT true,
    url          text NOT NULL CHECK (length(url) BETWEEN 1 AND 500),
    model        text NOT NULL CHECK (length(model) BETWEEN 1 AND 100),
    key_sealed   bytea,
    threshold    real NOT NULL DEFAULT 0.6 CHECK (threshold BETWEEN 0 AND 1),
    timeout_ms   integer NOT NULL DEFAULT 8000 CHECK (timeout_ms BETWEEN 1000 AND 30000),
    daily_budget integer NOT NULL DEFAULT 500 CHECK (daily_budget BETWEEN 0 AND 100000),
    last_error   text,
    last_error_at timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- One refinement per reply: queued by the arrival, claimed by a worker, and the
-- day's ledger the budget is counted from (`called` = a request was made).
CREATE TABLE review_llm_calls (
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    message_id      uuid NOT NULL,
    status          text NOT NULL DEFAULT 'PENDING'
                    CHECK (status IN ('PENDING', 'DONE', 'FAILED', 'SKIPPED')),
    attempts        integer NOT NULL DEFAULT 0,
    called          integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    day             date NOT NULL,
    error           text,
    duration_ms     integer,
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    PRIMARY KEY (tenant_id, message_id)
);
CREATE INDEX review_llm_calls_due ON review_llm_calls (next_attempt_at) WHERE status = 'PENDING';
CREATE INDEX review_llm_calls_day ON review_llm_calls (tenant_id, day);

-- What the LLM added, and who decided the intent last (a human's correction is
-- never overwritten by a late machine answer).
ALTER TABLE messages ADD COLUMN ai_summary text CHECK (length(ai_summary) <= 300),
                     ADD COLUMN suggested_reply text CHECK (length(suggested_reply) <= 2000),
                     ADD COLUMN classified_by text CHECK (classified_by IN ('RULES', 'LLM'));

DO $$
DECLARE t text;
BEGIN
    FOR t IN SELECT unnest(ARRAY['review_llm', 'review_llm_calls'])
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = (SELECT app_tenant())) '
                       'WITH CHECK (tenant_id = (SELECT app_tenant()))', t);
    END LOOP;
END $$;
CREATE POLICY definer_claim ON review_llm_calls TO CURRENT_USER USING (true) WITH CHECK (true);

-- Due refinements across tenants (the worker has none), each leased `p_lease_secs`
-- so a worker that dies mid-call lets it come due again.
CREATE FUNCTION review_llm_claim(p_limit integer, p_lease_secs integer)
RETURNS TABLE (tenant_id uuid, message_id uuid)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH due AS (
        SELECT c.tenant_id, c.message_id FROM review_llm_calls c
          JOIN tenants t ON t.id = c.tenant_id AND t.status = 'ACTIVE'
         WHERE c.status = 'PENDING' AND c.next_attempt_at <= now()
         ORDER BY c.next_attempt_at
         FOR UPDATE OF c SKIP LOCKED LIMIT p_limit
    )
    UPDATE review_llm_calls c SET next_attempt_at = now() + make_interval(secs => p_lease_secs)
      FROM due WHERE c.tenant_id = due.tenant_id AND c.message_id = due.message_id
    RETURNING c.tenant_id, c.message_id
$$;
REVOKE ALL ON FUNCTION review_llm_claim(integer, integer) FROM PUBLIC;
