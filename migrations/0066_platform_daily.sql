-- Issue 13: the staff console's figures over time. Every hour the worker keeps the
-- figures of the current UTC day (schedule `platform.daily`), so the last write of a
-- day is that day's; the console draws the days it has as lines. Nothing before the
-- first run is made up.
CREATE TABLE platform_daily (
    day              date PRIMARY KEY,
    active_tenants   integer NOT NULL,
    trialing         integer NOT NULL,
    paying           integer NOT NULL,
    past_due         integer NOT NULL,
    trials_ended     integer NOT NULL,
    trials_converted integer NOT NULL,
    churned_30d      integer NOT NULL,
    -- Monthly recurring revenue by currency, in minor units: {"USD": 11600}.
    mrr              jsonb NOT NULL DEFAULT '{}',
    taken_at         timestamptz NOT NULL DEFAULT now()
);

-- Takes the day's figures (as staff_figures counts them) and its MRR by currency.
-- Run by the worker as the runtime role, which can neither read nor write the table
-- itself: what every workspace together is doing is for staff.
CREATE FUNCTION platform_daily_take(p_day date) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    INSERT INTO platform_daily (day, active_tenants, trialing, paying, past_due, trials_ended,
                                trials_converted, churned_30d, mrr, taken_at)
    SELECT p_day,
           count(*) FILTER (WHERE t.status = 'ACTIVE'),
           count(*) FILTER (WHERE s.status = 'TRIALING'),
           count(*) FILTER (WHERE staff_mrr_of(s.status, s.plan_id, s.cycle, s.currency) > 0),
           count(*) FILTER (WHERE s.status IN ('PAST_DUE', 'UNPAID')),
           count(*) FILTER (WHERE s.trial_ends_at <= now()),
           count(*) FILTER (WHERE s.trial_ends_at <= now()
                              AND staff_mrr_of(s.status, s.plan_id, s.cycle, s.currency) > 0),
           count(*) FILTER (WHERE s.ended_at > now() - interval '30 days'),
           coalesce((SELECT jsonb_object_agg(x.currency, x.mrr)
                       FROM (SELECT s2.currency::text AS currency,
                                    sum(staff_mrr_of(s2.status, s2.plan_id, s2.cycle, s2.currency)) AS mrr
                               FROM subscriptions s2 JOIN tenants t2 ON t2.id = s2.tenant_id
                              WHERE t2.status <> 'DELETED'
                              GROUP BY s2.currency
                             HAVING sum(staff_mrr_of(s2.status, s2.plan_id, s2.cycle, s2.currency)) > 0) x),
                    '{}'),
           now()
      FROM tenants t LEFT JOIN subscriptions s ON s.tenant_id = t.id
     WHERE t.status <> 'DELETED'
    ON CONFLICT (day) DO UPDATE SET
        active_tenants = EXCLUDED.active_tenants, trialing = EXCLUDED.trialing,
        paying = EXCLUDED.paying, past_due = EXCLUDED.past_due,
        trials_ended = EXCLUDED.trials_ended, trials_converted = EXCLUDED.trials_converted,
        churned_30d = EXCLUDED.churned_30d, mrr = EXCLUDED.mrr, taken_at = EXCLUDED.taken_at;
$$;

-- The last `p_days` days kept, oldest first, for staff who may see the console.
CREATE FUNCTION staff_daily(p_actor uuid, p_days integer)
RETURNS SETOF platform_daily
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM staff_check(p_actor, 'console.view');
    RETURN QUERY
    SELECT * FROM platform_daily
     WHERE day > (now() AT TIME ZONE 'UTC')::date - least(greatest(p_days, 1), 400)
     ORDER BY day;
END $$;

REVOKE ALL ON FUNCTION platform_daily_take(date) FROM PUBLIC;
REVOKE ALL ON FUNCTION staff_daily(uuid, integer) FROM PUBLIC;

INSERT INTO schedules (name, cron) VALUES ('platform.daily', '0 5 * * * *');
