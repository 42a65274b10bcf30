-- SLAs count business time (issue 11): a manager sets the team's opening hours per
-- weekday with the review rules, in the workspace's time zone. NULL hours: around the
-- clock, as before.

-- Seven entries, Monday first (ISO weekday - 1), each closed (null) or
-- [opens, closes] in minutes after local midnight.
ALTER TABLE review_settings ADD COLUMN business_hours jsonb CHECK (
    business_hours IS NULL
    OR (jsonb_typeof(business_hours) = 'array' AND jsonb_array_length(business_hours) = 7));

-- `p_from` plus `p_minutes` of open time in `p_hours` (as above), counted on the wall
-- clock of `p_tz`. Starts at the next opening when `p_from` is outside the hours.
-- With no hours, or too few open minutes in 60 days, it is plain clock time.
CREATE FUNCTION business_due(p_from timestamptz, p_minutes integer, p_hours jsonb, p_tz text)
RETURNS timestamptz LANGUAGE plpgsql STABLE SET search_path = public, pg_temp AS $$
DECLARE
    local_now timestamp := p_from AT TIME ZONE p_tz;
    day       date := (p_from AT TIME ZONE p_tz)::date;
    left_min  double precision := p_minutes;
    w         jsonb;
    opens     timestamp;
    closes    timestamp;
    avail     double precision;
BEGIN
    IF p_hours IS NULL OR jsonb_typeof(p_hours) <> 'array' THEN
        RETURN p_from + make_interval(mins => p_minutes);
    END IF;
    FOR i IN 0..59 LOOP
        w := p_hours -> (extract(isodow FROM day)::int - 1);
        IF jsonb_typeof(w) = 'array' THEN
            opens := greatest(day + make_interval(mins => (w ->> 0)::int), local_now);
            closes := day + make_interval(mins => (w ->> 1)::int);
            IF opens < closes THEN
                avail := extract(epoch FROM closes - opens) / 60;
                IF left_min <= avail THEN
                    RETURN (opens + make_interval(secs => left_min * 60)) AT TIME ZONE p_tz;
                END IF;
                left_min := left_min - avail;
            END IF;
        END IF;
        day := day + 1;
    END LOOP;
    RETURN p_from + make_interval(mins => p_minutes);
END $$;

-- When an item or approval level created now for `p_tenant` is due.
CREATE FUNCTION review_sla_due(p_tenant uuid, p_minutes integer) RETURNS timestamptz
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    SELECT business_due(now(), p_minutes,
                        (SELECT business_hours FROM review_settings WHERE tenant_id = p_tenant),
                        coalesce((SELECT timezone FROM tenants WHERE id = p_tenant), 'UTC'))
$$;
