-- Billing (seeds 001–004): a plan catalogue with limits and prices, subscriptions that change with proration or at period end, invoices with
-- gapless numbers per tenant, and the payment provider's events logged once each.

ALTER TABLE plans
    ADD COLUMN names              jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN records_limit      integer CHECK (records_limit > 0),
    ADD COLUMN wa_numbers_limit   integer CHECK (wa_numbers_limit >= 0),
    ADD COLUMN mailboxes_limit    integer CHECK (mailboxes_limit >= 0),
    ADD COLUMN messages_limit     integer CHECK (messages_limit >= 0);
INSERT INTO plans (id, name, seats_limit, sort_order) VALUES ('enterprise', 'Enterprise', 500, 3);
-- NULL is "no limit".
UPDATE plans SET
    names = jsonb_build_object('en', name, 'ar', CASE id WHEN 'free' THEN 'مجاني' WHEN 'starter' THEN 'المبتدئ'
                                                 WHEN 'pro' THEN 'الاحترافي' ELSE 'المؤسسات' END),
    records_limit = CASE id WHEN 'free' THEN 500 WHEN 'starter' THEN 10000 WHEN 'pro' THEN 200000 END,
    wa_numbers_limit = CASE id WHEN 'free' THEN 1 WHEN 'starter' THEN 3 WHEN 'pro' THEN 20 END,
    mailboxes_limit = CASE id WHEN 'free' THEN 1 WHEN 'starter' THEN 5 WHEN 'pro' THEN 50 END,
    messages_limit = CASE id WHEN 'free' THEN 500 WHEN 'starter' THEN 10000 WHEN 'pro' THEN 200000 END,
    features = CASE id WHEN 'free' THEN '[]'::jsonb WHEN 'starter' THEN '["inventory.maps"]'::jsonb
                       ELSE '["inventory.maps", "review.ai", "api", "white_label", "analytics"]'::jsonb END;

CREATE TABLE plan_prices (
    plan_id      text NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    cycle        text NOT NULL CHECK (cycle IN ('MONTHLY', 'YEARLY')),
    currency     char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    amount_minor bigint NOT NULL CHECK (amount_minor >= 0),
    PRIMARY KEY (plan_id, cycle, currency)
);
-- Yearly is ten months' price. Enterprise is quoted, so it has no list price.
INSERT INTO plan_prices (plan_id, cycle, currency, amount_minor)
SELECT p.plan, c.cycle, m.currency, m.monthly * CASE c.cycle WHEN 'YEARLY' THEN 10 ELSE 1 END
  FROM (VALUES ('free', 0), ('starter', 1), ('pro', 4)) AS p (plan, tier),
       (VALUES ('MONTHLY'), ('YEARLY')) AS c (cycle),
       LATERAL (VALUES ('USD', p.tier * 2900), ('SAR', p.tier * 10900), ('EGP', p.tier * 145000),
                       ('BRL', p.tier * 14900), ('RON', p.tier * 13900)) AS m (currency, monthly);

ALTER TABLE subscriptions
    ADD COLUMN cycle                text NOT NULL DEFAULT 'MONTHLY' CHECK (cycle IN ('MONTHLY', 'YEARLY')),
    ADD COLUMN currency             char(3) NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
    ADD COLUMN trial_ends_at        timestamptz,
    ADD COLUMN cancel_at_period_end boolean NOT NULL DEFAULT false,
    ADD COLUMN pending_plan_id      text REFERENCES plans (id),
    ADD COLUMN version              integer NOT NULL DEFAULT 1;

-- Who the invoices are addressed to, and where tax is due.
CREATE TABLE billing_profiles (
    tenant_id    uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    company_name text CHECK (length(company_name) <= 200),
    address      text CHECK (length(address) <= 500),
    country      char(2) CHECK (country ~ '^[A-Z]{2}$'),
    tax_id       text CHECK (length(tax_id) <= 40),
    email        text CHECK (length(email) <= 254),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- The last invoice number per tenant: taken with a row lock, so numbers have no gaps
-- and no repeats however many invoices are made at once.
CREATE TABLE invoice_counters (
    tenant_id   uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    last_number integer NOT NULL DEFAULT 0
);

CREATE TABLE invoices (
    tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id             uuid NOT NULL,
    number         integer NOT NULL CHECK (number > 0),
    status         text NOT NULL DEFAULT 'OPEN' CHECK (status IN ('DRAFT', 'OPEN', 'PAID', 'VOID', 'UNCOLLECTIBLE')),
    currency       char(3) NOT NULL,
    subtotal_minor bigint NOT NULL,
    tax_rate_bp    integer NOT NULL DEFAULT 0 CHECK (tax_rate_bp BETWEEN 0 AND 10000),
    tax_note       text,
    tax_minor      bigint NOT NULL DEFAULT 0,
    total_minor    bigint NOT NULL,
    period_start   timestamptz,
    period_end     timestamptz,
    issued_at      timestamptz NOT NULL DEFAULT now(),
    paid_at        timestamptz,
    -- The provider's payment for it, once one is asked for.
    provider_ref   text,
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, number),
    CHECK (total_minor = subtotal_minor + tax_minor)
);
CREATE TABLE invoice_lines (
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    invoice_id   uuid NOT NULL,
    position     integer NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('PLAN', 'PRORATION', 'ADDON', 'OVERAGE')),
    description  text NOT NULL CHECK (length(description) <= 300),
    amount_minor bigint NOT NULL,
    PRIMARY KEY (tenant_id, invoice_id, position),
    FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id) ON DELETE CASCADE
);

-- Every event the payment provider sent, once each (its id), with what we did.
CREATE TABLE billing_events (
    id           text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 255),
    tenant_id    uuid REFERENCES tenants (id) ON DELETE CASCADE,
    type         text NOT NULL,
    created      timestamptz NOT NULL,
    payload      jsonb NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    outcome      text NOT NULL
);
CREATE INDEX billing_events_tenant ON billing_events (tenant_id, received_at DESC);

DO $$
DECLARE t text;
BEGIN
    FOR t IN SELECT unnest(ARRAY['billing_profiles', 'invoice_counters', 'invoices', 'invoice_lines'])
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = (SELECT app_tenant())) '
                       'WITH CHECK (tenant_id = (SELECT app_tenant()))', t);
    END LOOP;
END $$;
-- The provider's events arrive before a tenant is known; the runtime role reaches
-- them only through these functions.
ALTER TABLE billing_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE billing_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON billing_events USING (tenant_id = (SELECT app_tenant()));
CREATE POLICY definer_events ON billing_events TO CURRENT_USER USING (true) WITH CHECK (true);

-- Records a verified provider event once: false when its id was seen before.
CREATE FUNCTION billing_event_record(p_id text, p_tenant uuid, p_type text, p_created timestamptz,
                                     p_payload jsonb, p_outcome text) RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH ins AS (
        INSERT INTO billing_events (id, tenant_id, type, created, payload, outcome)
        SELECT p_id, t.id, p_type, p_created, p_payload, p_outcome
          FROM (SELECT p_tenant AS id) t
        ON CONFLICT (id) DO NOTHING
        RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM ins)
$$;
REVOKE ALL ON FUNCTION billing_event_record(text, uuid, text, timestamptz, jsonb, text) FROM PUBLIC;

-- Every workspace starts on a 14-day trial of its plan.
UPDATE subscriptions SET status = 'TRIALING', trial_ends_at = created_at + interval '14 days'
 WHERE status = 'ACTIVE' AND created_at > now() - interval '14 days';

-- Period ends, across tenants (schedule `billing.periods`): a trial that ended becomes
-- active, a cancellation asked for takes effect, a downgrade asked for is applied, and
-- the period moves on. `p_now` lets tests move the clock.
CREATE FUNCTION billing_roll_periods(p_now timestamptz) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    rolled bigint;
BEGIN
    WITH due AS (
        UPDATE subscriptions s
           SET status = CASE WHEN s.cancel_at_period_end THEN 'CANCELLED'
                             WHEN s.status = 'TRIALING' THEN 'ACTIVE' ELSE s.status END,
               plan_id = coalesce(s.pending_plan_id, s.plan_id),
               pending_plan_id = NULL,
               current_period_start = s.current_period_end,
               current_period_end = s.current_period_end
                   + CASE s.cycle WHEN 'YEARLY' THEN interval '1 year' ELSE interval '1 month' END,
               version = s.version + 1
         WHERE s.current_period_end <= p_now AND s.status <> 'CANCELLED'
        RETURNING 1
    )
    SELECT count(*) INTO rolled FROM due;
    RETURN rolled;
END $$;
REVOKE ALL ON FUNCTION billing_roll_periods(timestamptz) FROM PUBLIC;
CREATE POLICY definer_billing ON subscriptions TO CURRENT_USER USING (true) WITH CHECK (true);

INSERT INTO schedules (name, cron) VALUES ('billing.periods', '0 */5 * * * *');
