-- Issue 13: a plan limits API requests per hour as well as per minute. The minute
-- limit absorbs bursts; the hour limit is the plan's allowance (seed 001's hourly
-- quota). NULL: no hourly limit (Enterprise).
ALTER TABLE plans ADD COLUMN api_per_hour integer CHECK (api_per_hour > 0);
UPDATE plans SET api_per_hour = CASE id WHEN 'free' THEN 1000 WHEN 'starter' THEN 5000
                                        WHEN 'pro' THEN 30000 END;

-- The key lookup answers the workspace's hourly limit too (0054's function, one column more).
DROP FUNCTION api_key_lookup(text);
CREATE FUNCTION api_key_lookup(p_prefix text)
RETURNS TABLE (tenant_id uuid, id uuid, name text, secret_hash bytea, scopes text[],
               allowed_ips inet[], per_minute integer, tenant_per_minute integer,
               tenant_per_hour integer,
               expires_at timestamptz, revoked_at timestamptz, last_used_at timestamptz,
               last_used_ip text, plan_name text, plan_has_api boolean, api_override boolean,
               api_flag_enabled boolean, api_flag_rollout integer)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT k.tenant_id, k.id, k.name, k.secret_hash, k.scopes, k.allowed_ips, k.per_minute,
           coalesce(pl.api_per_minute, 60), pl.api_per_hour,
           k.expires_at, k.revoked_at, k.last_used_at, k.last_used_ip,
           coalesce(pl.name, ''), coalesce(pl.features ? 'api', false),
           (SELECT o.enabled FROM tenant_features o
             WHERE o.tenant_id = k.tenant_id AND o.feature_key = 'api'
               AND (o.expires_at IS NULL OR o.expires_at > now())),
           f.enabled, f.rollout_percentage
      FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
      LEFT JOIN LATERAL (SELECT p.api_per_minute, p.api_per_hour, p.name, p.features
                           FROM subscriptions s JOIN plans p ON p.id = s.plan_id
                          WHERE s.tenant_id = k.tenant_id ORDER BY s.created_at DESC LIMIT 1) pl ON true
      LEFT JOIN feature_flags f ON f.key = 'api'
     WHERE k.prefix = p_prefix AND t.status = 'ACTIVE'
$$;
REVOKE ALL ON FUNCTION api_key_lookup(text) FROM PUBLIC;

-- Staff set it with the other limits (0064's function, one argument more).
DROP FUNCTION staff_save_plan(uuid, text, integer, integer, integer, integer, integer, integer,
                              integer, integer, integer, jsonb, jsonb, text, text);
CREATE FUNCTION staff_save_plan(p_actor uuid, p_plan text, p_seats integer, p_records integer,
                                p_wa_numbers integer, p_mailboxes integer, p_wa_messages integer,
                                p_email_messages integer, p_domains integer, p_storage_mb integer,
                                p_api_per_minute integer, p_api_per_hour integer,
                                p_features jsonb, p_prices jsonb, p_reason text, p_ip text)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    before jsonb;
BEGIN
    PERFORM staff_check(p_actor, 'plans.manage');
    PERFORM 1 FROM plans WHERE id = p_plan FOR UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    before := staff_plan_snapshot(p_plan);
    UPDATE plans SET seats_limit = p_seats, records_limit = p_records,
                     wa_numbers_limit = p_wa_numbers, mailboxes_limit = p_mailboxes,
                     wa_messages_limit = p_wa_messages, email_messages_limit = p_email_messages,
                     domains_limit = p_domains, storage_limit_mb = p_storage_mb,
                     api_per_minute = p_api_per_minute, api_per_hour = p_api_per_hour,
                     features = p_features
     WHERE id = p_plan;
    INSERT INTO plan_prices (plan_id, cycle, currency, amount_minor)
    SELECT p_plan, x.cycle, x.currency, x.amount_minor
      FROM jsonb_to_recordset(p_prices) AS x (cycle text, currency text, amount_minor bigint)
    ON CONFLICT (plan_id, cycle, currency) DO UPDATE SET amount_minor = EXCLUDED.amount_minor;
    INSERT INTO staff_audit (actor_user_id, action, target, before, after, reason, ip)
    VALUES (p_actor, 'plan.changed', p_plan, before, staff_plan_snapshot(p_plan),
            nullif(p_reason, ''), p_ip);
    RETURN true;
END $$;
REVOKE ALL ON FUNCTION staff_save_plan(uuid, text, integer, integer, integer, integer, integer,
                                       integer, integer, integer, integer, integer, jsonb, jsonb,
                                       text, text) FROM PUBLIC;
