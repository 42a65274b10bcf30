-- Charging invoices through the payment provider, dunning, and soft usage warnings
-- (DECISIONS 45).

-- The workspace's customer at the provider and the payment method to charge. The
-- method is the provider's id of a card the provider holds (`pm_…`): no card number
-- ever reaches us.
ALTER TABLE billing_profiles
    ADD COLUMN provider_customer_id text CHECK (provider_customer_id ~ '^cus_[A-Za-z0-9]{1,100}$'),
    ADD COLUMN payment_method       text CHECK (payment_method ~ '^pm_[A-Za-z0-9_]{1,100}$');

-- Every try to collect an invoice: the first when it is issued, the dunning retries on
-- days 1, 3, 5 and 7 after the first failure, and the owner's "Pay now". Each has its
-- own idempotency key, so a worker that dies mid-charge and tries again gets the
-- provider's first answer back instead of charging twice.
CREATE TABLE payment_attempts (
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id              uuid NOT NULL,
    invoice_id      uuid NOT NULL,
    -- 1 at issue; dunning retries and manual payments count on.
    attempt         integer NOT NULL CHECK (attempt >= 1),
    kind            text NOT NULL CHECK (kind IN ('ISSUE', 'RETRY', 'MANUAL')),
    status          text NOT NULL DEFAULT 'DUE' CHECK (status IN ('DUE', 'SUCCEEDED', 'FAILED', 'CANCELLED')),
    due_at          timestamptz NOT NULL,
    -- Provider hiccups (not declines) are tried again under the same key.
    tries           integer NOT NULL DEFAULT 0,
    idempotency_key text NOT NULL CHECK (length(idempotency_key) <= 255),
    payment_method  text,
    provider_ref    text,
    failure_code    text CHECK (length(failure_code) <= 100),
    failure_message text CHECK (length(failure_message) <= 500),
    finished_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, invoice_id, attempt),
    UNIQUE (idempotency_key),
    FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX payment_attempts_due ON payment_attempts (due_at) WHERE status = 'DUE';
CREATE INDEX payment_attempts_invoice ON payment_attempts (tenant_id, invoice_id, attempt DESC);

-- One warning per limit, period and threshold (80 or 100 %): the row is the "sent".
CREATE TABLE usage_warnings (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    metric     text NOT NULL CHECK (metric IN ('Seats', 'Records', 'WhatsAppNumbers', 'Mailboxes', 'MessagesThisMonth')),
    period     date NOT NULL,
    threshold  integer NOT NULL CHECK (threshold IN (80, 100)),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, metric, period, threshold)
);

DO $$
DECLARE t text;
BEGIN
    FOR t IN SELECT unnest(ARRAY['payment_attempts', 'usage_warnings'])
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = (SELECT app_tenant())) '
                       'WITH CHECK (tenant_id = (SELECT app_tenant()))', t);
    END LOOP;
END $$;
CREATE POLICY definer_attempts ON payment_attempts TO CURRENT_USER USING (true) WITH CHECK (true);

-- Attempts whose time has come, across tenants, for the charging worker. `p_now` lets
-- tests move the clock; each claimed attempt is leased (pushed `p_lease_secs` ahead)
-- so a worker that dies mid-charge lets it come due again, under the same key.
CREATE FUNCTION payment_attempt_claim(p_now timestamptz, p_limit integer, p_lease_secs integer)
RETURNS TABLE (tenant_id uuid, id uuid)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH due AS (
        SELECT a.id FROM payment_attempts a
          JOIN tenants t ON t.id = a.tenant_id AND t.status = 'ACTIVE'
         WHERE a.status = 'DUE' AND a.due_at <= p_now
         ORDER BY a.due_at
         FOR UPDATE OF a SKIP LOCKED LIMIT p_limit
    )
    UPDATE payment_attempts a SET due_at = p_now + make_interval(secs => p_lease_secs), tries = a.tries + 1
      FROM due WHERE a.id = due.id
    RETURNING a.tenant_id, a.id
$$;
REVOKE ALL ON FUNCTION payment_attempt_claim(timestamptz, integer, integer) FROM PUBLIC;

ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check
    CHECK (kind IN ('SEND_FAILED', 'SENDER_PAUSED', 'REPLY', 'REVIEW_ASSIGNED', 'SLA_BREACH', 'JOB_FINISHED',
                    'WEBHOOK_DISABLED', 'PAYMENT_FAILED', 'USAGE_WARNING'));
