-- Issue 13: plan features are enforced. API access comes with every paid plan (Starter
-- and up); Free has none of the features. The API key lookup also answers what the
-- key's workspace may do with the API: its plan, a per-workspace override, and the
-- global flag of the same key (a rollout percentage, or off everywhere).
UPDATE plans SET features = features || '["api"]'::jsonb WHERE id = 'starter' AND NOT features ? 'api';

DROP FUNCTION api_key_lookup(text);
CREATE FUNCTION api_key_lookup(p_prefix text)
RETURNS TABLE (tenant_id uuid, id uuid, name text, secret_hash bytea, scopes text[],
               allowed_ips inet[], per_minute integer, tenant_per_minute integer,
               expires_at timestamptz, revoked_at timestamptz, last_used_at timestamptz,
               last_used_ip text, plan_name text, plan_has_api boolean, api_override boolean,
               api_flag_enabled boolean, api_flag_rollout integer)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT k.tenant_id, k.id, k.name, k.secret_hash, k.scopes, k.allowed_ips, k.per_minute,
           coalesce(pl.api_per_minute, 60),
           k.expires_at, k.revoked_at, k.last_used_at, k.last_used_ip,
           coalesce(pl.name, ''), coalesce(pl.features ? 'api', false),
           (SELECT o.enabled FROM tenant_features o
             WHERE o.tenant_id = k.tenant_id AND o.feature_key = 'api'
               AND (o.expires_at IS NULL OR o.expires_at > now())),
           f.enabled, f.rollout_percentage
      FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
      LEFT JOIN LATERAL (SELECT p.api_per_minute, p.name, p.features
                           FROM subscriptions s JOIN plans p ON p.id = s.plan_id
                          WHERE s.tenant_id = k.tenant_id ORDER BY s.created_at DESC LIMIT 1) pl ON true
      LEFT JOIN feature_flags f ON f.key = 'api'
     WHERE k.prefix = p_prefix AND t.status = 'ACTIVE'
$$;
REVOKE ALL ON FUNCTION api_key_lookup(text) FROM PUBLIC;

-- Each plan feature has its flag, on for every workspace whose plan includes it: staff
-- narrow the rollout or switch it off, and per-workspace overrides (which reference a
-- flag) grant or withdraw it.
INSERT INTO feature_flags (key, description, enabled, rollout_percentage) VALUES
    ('inventory.maps', 'Plan feature: floor-plan maps', true, 100),
    ('review.ai', 'Plan feature: AI reply review', true, 100),
    ('api', 'Plan feature: API access', true, 100),
    ('white_label', 'Plan feature: white label', true, 100),
    ('analytics', 'Plan feature: advanced analytics', true, 100)
ON CONFLICT (key) DO NOTHING;
