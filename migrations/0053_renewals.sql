-- Issue 13: a period roll renews the subscription with an invoice for the new period,
-- so it moves to the application, which numbers, taxes and queues the charge in the
-- same transaction as the roll. The database only says which workspaces are due.
DROP FUNCTION billing_roll_periods(timestamptz);

CREATE FUNCTION billing_due_renewals(p_now timestamptz, p_limit integer) RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT tenant_id FROM subscriptions
     WHERE current_period_end <= p_now AND status <> 'CANCELLED'
     ORDER BY current_period_end
     LIMIT least(greatest(p_limit, 1), 1000)
$$;
REVOKE ALL ON FUNCTION billing_due_renewals(timestamptz, integer) FROM PUBLIC;
CREATE INDEX subscriptions_period_end ON subscriptions (current_period_end) WHERE status <> 'CANCELLED';
