-- Issue 13: a request an API limit refuses no longer counts against the others. Each
-- limit was a counter taken on its own (0021's rate_limit_take), so a client retrying
-- through its minute limit spent its hour's allowance on requests that never ran.
-- Now the three windows are read and locked together, and counted only when all
-- three have room. Answers each window's hits as they would be with this request
-- (over its limit when refused) and the seconds to its reset.
CREATE FUNCTION api_rate_take(p_key text, p_tenant text, p_key_limit integer,
                              p_tenant_limit integer, p_hour_limit integer,
                              OUT key_hits integer, OUT key_reset integer,
                              OUT tenant_hits integer, OUT tenant_reset integer,
                              OUT hour_hits integer, OUT hour_reset integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    windows CONSTANT text[] := ARRAY['api_key', 'api_tenant', 'api_tenant_hour'];
    subjects text[] := ARRAY[p_key, p_tenant, p_tenant];
    seconds CONSTANT integer[] := ARRAY[60, 60, 3600];
    counts integer[] := ARRAY[0, 0, 0];
    resets integer[] := ARRAY[0, 0, 0];
    i integer;
    taken integer;
    reset integer;
BEGIN
    -- Always in this order, so two requests never wait on each other's rows.
    FOR i IN 1..3 LOOP
        INSERT INTO rate_limits AS r (bucket, subject, window_start, hits)
        VALUES (windows[i], subjects[i], now(), 0)
        ON CONFLICT (bucket, subject) DO UPDATE
           SET window_start = CASE WHEN r.window_start + make_interval(secs => seconds[i]) <= now()
                                   THEN now() ELSE r.window_start END,
               hits = CASE WHEN r.window_start + make_interval(secs => seconds[i]) <= now()
                           THEN 0 ELSE r.hits END
        RETURNING r.hits + 1,
                  greatest(1, ceil(extract(epoch FROM
                      r.window_start + make_interval(secs => seconds[i]) - now()))::integer)
             INTO taken, reset;
        counts[i] := taken;
        resets[i] := reset;
    END LOOP;
    IF counts[1] <= p_key_limit AND counts[2] <= p_tenant_limit
       AND (p_hour_limit IS NULL OR counts[3] <= p_hour_limit) THEN
        UPDATE rate_limits SET hits = hits + 1
         WHERE (bucket, subject) IN ((windows[1], subjects[1]), (windows[2], subjects[2]),
                                     (windows[3], subjects[3]));
    END IF;
    key_hits := counts[1]; key_reset := resets[1];
    tenant_hits := counts[2]; tenant_reset := resets[2];
    hour_hits := counts[3]; hour_reset := resets[3];
END $$;
REVOKE ALL ON FUNCTION api_rate_take(text, text, integer, integer, integer) FROM PUBLIC;

-- The single counter it replaces has no other caller.
DROP FUNCTION rate_limit_take(text, text, integer);
