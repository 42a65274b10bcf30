-- Issue 13: messages are metered per channel and calendar month (UTC) in a counter the
-- send path writes, and a plan caps each channel. A message past the cap is never
-- dropped: it waits in the outbox, marked, and goes when the month turns or the plan
-- changes.

ALTER TABLE plans
    ADD COLUMN wa_messages_limit    integer CHECK (wa_messages_limit >= 0),
    ADD COLUMN email_messages_limit integer CHECK (email_messages_limit >= 0);
-- The one limit both channels shared becomes one per channel, at the same size.
UPDATE plans SET wa_messages_limit = messages_limit, email_messages_limit = messages_limit;
ALTER TABLE plans DROP COLUMN messages_limit;

DELETE FROM usage_warnings WHERE metric = 'MessagesThisMonth';
ALTER TABLE usage_warnings DROP CONSTRAINT usage_warnings_metric_check;
ALTER TABLE usage_warnings ADD CONSTRAINT usage_warnings_metric_check
    CHECK (metric IN ('Seats', 'Records', 'WhatsAppNumbers', 'Mailboxes', 'WhatsAppMessages', 'EmailMessages'));

-- Messages handed to a provider, per channel and month. The dispatcher adds a batch's
-- sends before it sends them (so concurrent dispatchers cannot pass a cap together)
-- and gives back, in the transaction that records the outcome, those that did not go.
CREATE TABLE usage_counters (
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    metric    text NOT NULL CHECK (metric IN ('WhatsAppMessages', 'EmailMessages')),
    -- The first day of the UTC month counted.
    period    date NOT NULL CHECK (period = date_trunc('month', period)::date),
    used      bigint NOT NULL DEFAULT 0 CHECK (used >= 0),
    PRIMARY KEY (tenant_id, metric, period)
);
ALTER TABLE usage_counters ENABLE ROW LEVEL SECURITY;
ALTER TABLE usage_counters FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON usage_counters USING (tenant_id = (SELECT app_tenant()))
    WITH CHECK (tenant_id = (SELECT app_tenant()));
-- The migrating role's maintenance (the benchmark's reset) works across tenants.
CREATE POLICY definer_meter ON usage_counters TO CURRENT_USER USING (true) WITH CHECK (true);

-- This month so far, from the messages already sent.
INSERT INTO usage_counters (tenant_id, metric, period, used)
SELECT tenant_id, CASE channel WHEN 'EMAIL' THEN 'EmailMessages' ELSE 'WhatsAppMessages' END,
       date_trunc('month', now() AT TIME ZONE 'UTC')::date, count(*)
  FROM messages
 WHERE direction = 'OUT' AND sent_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
 GROUP BY 1, 2;

-- Set on an outbox row held back by its channel's monthly cap: due again when the month
-- turns, or at once when the plan changes (the trigger below).
ALTER TABLE outbox ADD COLUMN held_by_limit boolean NOT NULL DEFAULT false;
CREATE INDEX outbox_held_by_limit ON outbox (tenant_id) WHERE held_by_limit;

CREATE FUNCTION release_limit_held() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE outbox SET due_at = now(), held_by_limit = false
     WHERE tenant_id = NEW.tenant_id AND held_by_limit;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION release_limit_held() FROM PUBLIC;
CREATE TRIGGER subscriptions_release_held AFTER UPDATE OF plan_id ON subscriptions
    FOR EACH ROW WHEN (OLD.plan_id IS DISTINCT FROM NEW.plan_id) EXECUTE FUNCTION release_limit_held();
