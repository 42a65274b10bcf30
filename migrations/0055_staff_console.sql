-- Issue 13: platform staff and their console (seed 003's staff_members, staff_roles,
-- staff_role_permissions, permissions). Staff are users with a staff role, separate
-- from any workspace role: being OWNER of a workspace gives nothing here.
--
-- The runtime role can neither read nor write these tables. Everything the console
-- does goes through the SECURITY DEFINER functions below, and each checks the acting
-- user's permission itself (a staff role that holds it, and 2FA turned on), so a bug
-- in the app's own check cannot open the console to a workspace member.

CREATE TABLE staff_permissions (
    key         text PRIMARY KEY CHECK (key ~ '^[a-z_.]+$'),
    description text NOT NULL
);
INSERT INTO staff_permissions (key, description) VALUES
    ('console.view', 'See workspaces, platform figures, feature flags, provider events and the staff audit log'),
    ('flags.manage', 'Change feature flags, their rollout, and per-workspace overrides'),
    ('billing.replay', 'Apply a payment provider event again'),
    ('support.access', 'Open a workspace read-only for support, with a reason its owner sees');

CREATE TABLE staff_roles (
    key         text PRIMARY KEY CHECK (key ~ '^[a-z_]+$'),
    name        text NOT NULL,
    description text NOT NULL DEFAULT ''
);
INSERT INTO staff_roles (key, name, description) VALUES
    ('owner', 'Platform owner', 'Everything in the console'),
    ('engineer', 'Engineer', 'Feature flags and rollouts'),
    ('finance', 'Finance', 'Provider events and their replay'),
    ('support', 'Support', 'Read only');

CREATE TABLE staff_role_permissions (
    role_key       text NOT NULL REFERENCES staff_roles (key) ON DELETE CASCADE,
    permission_key text NOT NULL REFERENCES staff_permissions (key) ON DELETE CASCADE,
    PRIMARY KEY (role_key, permission_key)
);
INSERT INTO staff_role_permissions (role_key, permission_key) VALUES
    ('owner', 'console.view'), ('owner', 'flags.manage'), ('owner', 'billing.replay'),
    ('owner', 'support.access'), ('support', 'support.access'),
    ('engineer', 'console.view'), ('engineer', 'flags.manage'),
    ('finance', 'console.view'), ('finance', 'billing.replay'),
    ('support', 'console.view');

CREATE TABLE staff_members (
    user_id    uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    role_key   text NOT NULL REFERENCES staff_roles (key),
    notes      text CHECK (length(notes) <= 500),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Staff's own audit log: what they changed on the platform, kept apart from any
-- workspace's log (a change to one workspace is recorded in its log as well).
CREATE TABLE staff_audit (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    actor_user_id uuid NOT NULL REFERENCES users (id),
    action        text NOT NULL CHECK (length(action) <= 100),
    target        text NOT NULL CHECK (length(target) <= 300),
    before        jsonb,
    after         jsonb,
    reason        text CHECK (length(reason) <= 500),
    ip            text,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX staff_audit_page ON staff_audit (created_at DESC, id DESC);

-- When a subscription ended, for churn.
ALTER TABLE subscriptions ADD COLUMN ended_at timestamptz;
CREATE FUNCTION subscriptions_mark_ended() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'CANCELLED' AND OLD.status <> 'CANCELLED' THEN
        NEW.ended_at := now();
    ELSIF NEW.status <> 'CANCELLED' THEN
        NEW.ended_at := NULL;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER subscriptions_mark_ended BEFORE UPDATE OF status ON subscriptions
    FOR EACH ROW EXECUTE FUNCTION subscriptions_mark_ended();

-- The definer functions read across workspaces through these policies, granted to the
-- migrating role only.
CREATE POLICY definer_staff ON memberships FOR SELECT TO CURRENT_USER USING (true);
CREATE POLICY definer_staff ON contacts FOR SELECT TO CURRENT_USER USING (true);
CREATE POLICY definer_staff ON leads FOR SELECT TO CURRENT_USER USING (true);

-- The user's staff role, if any (the sidebar's link; the console explains what is
-- missing, such as 2FA).
CREATE FUNCTION staff_role(p_user uuid) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT role_key FROM staff_members WHERE user_id = p_user
$$;

-- Whether the user may do `p_permission`: a staff role that holds it, and 2FA on.
CREATE FUNCTION staff_may(p_user uuid, p_permission text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT EXISTS (
        SELECT 1 FROM staff_members s
          JOIN staff_role_permissions rp ON rp.role_key = s.role_key
          JOIN users u ON u.id = s.user_id
         WHERE s.user_id = p_user AND rp.permission_key = p_permission
           AND u.totp_enabled_at IS NOT NULL)
$$;

CREATE FUNCTION staff_check(p_user uuid, p_permission text) RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF NOT staff_may(p_user, p_permission) THEN
        RAISE EXCEPTION 'staff permission % required', p_permission USING ERRCODE = '42501';
    END IF;
END $$;

-- The permissions the user holds, for the console to show only what they may do.
CREATE FUNCTION staff_permissions_of(p_user uuid) RETURNS SETOF text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT rp.permission_key FROM staff_members s
      JOIN staff_role_permissions rp ON rp.role_key = s.role_key
      JOIN users u ON u.id = s.user_id
     WHERE s.user_id = p_user AND u.totp_enabled_at IS NOT NULL
     ORDER BY 1
$$;

-- Monthly recurring revenue of a subscription: what its plan costs a month in its
-- currency, for paying states only (a trial pays nothing yet).
CREATE FUNCTION staff_mrr_of(p_status text, p_plan text, p_cycle text, p_currency text) RETURNS bigint
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    SELECT CASE WHEN p_status IN ('ACTIVE', 'PAST_DUE') THEN
               coalesce((SELECT CASE p_cycle WHEN 'YEARLY' THEN round(amount_minor / 12.0)::bigint
                                 ELSE amount_minor END
                           FROM plan_prices
                          WHERE plan_id = p_plan AND cycle = p_cycle AND currency = p_currency), 0)
           ELSE 0 END
$$;

-- Workspaces, newest first, with plan, state, MRR and usage; `p_query` matches the
-- name or the address slug.
CREATE FUNCTION staff_tenants(p_actor uuid, p_query text, p_limit integer)
RETURNS TABLE (id uuid, name text, slug text, status text, created_at timestamptz,
               plan_id text, plan_name text, subscription_status text, cycle text,
               currency text, mrr_minor bigint, trial_ends_at timestamptz,
               period_end timestamptz, members bigint, records bigint, seats_limit integer,
               records_limit integer)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM staff_check(p_actor, 'console.view');
    RETURN QUERY
    SELECT t.id, t.name, t.slug, t.status, t.created_at, s.plan_id, p.name, s.status, s.cycle,
           s.currency::text, staff_mrr_of(s.status, s.plan_id, s.cycle, s.currency),
           s.trial_ends_at, s.current_period_end,
           (SELECT count(*) FROM memberships m WHERE m.tenant_id = t.id AND m.status = 'ACTIVE'),
           (SELECT count(*) FROM contacts c WHERE c.tenant_id = t.id)
             + (SELECT count(*) FROM leads l WHERE l.tenant_id = t.id),
           p.seats_limit, p.records_limit
      FROM tenants t
      LEFT JOIN subscriptions s ON s.tenant_id = t.id
      LEFT JOIN plans p ON p.id = s.plan_id
     WHERE t.status <> 'DELETED'
       AND (coalesce(p_query, '') = ''
            OR t.name ILIKE '%' || p_query || '%' OR t.slug ILIKE '%' || p_query || '%')
     ORDER BY t.created_at DESC, t.id
     LIMIT least(greatest(p_limit, 1), 200);
END $$;

-- MRR by currency and plan.
CREATE FUNCTION staff_mrr(p_actor uuid)
RETURNS TABLE (currency text, plan_id text, plan_name text, tenants bigint, mrr_minor bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM staff_check(p_actor, 'console.view');
    RETURN QUERY
    SELECT s.currency::text, s.plan_id, p.name, count(*),
           sum(staff_mrr_of(s.status, s.plan_id, s.cycle, s.currency))::bigint
      FROM subscriptions s JOIN plans p ON p.id = s.plan_id
      JOIN tenants t ON t.id = s.tenant_id AND t.status <> 'DELETED'
     WHERE staff_mrr_of(s.status, s.plan_id, s.cycle, s.currency) > 0
     GROUP BY s.currency, s.plan_id, p.name, p.sort_order
     ORDER BY s.currency, p.sort_order;
END $$;

-- Platform figures: workspaces by state, trials that ended and how many of those pay,
-- and the paying workspaces lost in the last 30 days.
CREATE FUNCTION staff_figures(p_actor uuid)
RETURNS TABLE (active_tenants bigint, trialing bigint, paying bigint, past_due bigint,
               trials_ended bigint, trials_converted bigint, churned_30d bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM staff_check(p_actor, 'console.view');
    RETURN QUERY
    SELECT count(*) FILTER (WHERE t.status = 'ACTIVE'),
           count(*) FILTER (WHERE s.status = 'TRIALING'),
           count(*) FILTER (WHERE staff_mrr_of(s.status, s.plan_id, s.cycle, s.currency) > 0),
           count(*) FILTER (WHERE s.status IN ('PAST_DUE', 'UNPAID')),
           count(*) FILTER (WHERE s.trial_ends_at <= now()),
           count(*) FILTER (WHERE s.trial_ends_at <= now()
                              AND staff_mrr_of(s.status, s.plan_id, s.cycle, s.currency) > 0),
           count(*) FILTER (WHERE s.ended_at > now() - interval '30 days')
      FROM tenants t LEFT JOIN subscriptions s ON s.tenant_id = t.id
     WHERE t.status <> 'DELETED';
END $$;

-- Appends to the staff audit log; only staff can.
CREATE FUNCTION staff_audit_add(p_actor uuid, p_action text, p_target text, p_before jsonb,
                                p_after jsonb, p_reason text, p_ip text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM staff_check(p_actor, 'console.view');
    INSERT INTO staff_audit (actor_user_id, action, target, before, after, reason, ip)
    VALUES (p_actor, p_action, p_target, p_before, p_after, nullif(p_reason, ''), p_ip);
END $$;

CREATE FUNCTION staff_audit_page(p_actor uuid, p_limit integer)
RETURNS TABLE (id uuid, actor_name text, actor_email text, action text, target text,
               before jsonb, after jsonb, reason text, ip text, created_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM staff_check(p_actor, 'console.view');
    RETURN QUERY
    SELECT a.id, u.name, u.email::text, a.action, a.target, a.before, a.after, a.reason, a.ip,
           a.created_at
      FROM staff_audit a JOIN users u ON u.id = a.actor_user_id
     ORDER BY a.created_at DESC, a.id DESC
     LIMIT least(greatest(p_limit, 1), 500);
END $$;

-- Changes a feature flag and records the change, before and after, in one statement.
CREATE FUNCTION staff_set_flag(p_actor uuid, p_key text, p_enabled boolean, p_rollout integer,
                               p_reason text, p_ip text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    old feature_flags%ROWTYPE;
BEGIN
    PERFORM staff_check(p_actor, 'flags.manage');
    SELECT * INTO old FROM feature_flags WHERE key = p_key FOR UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    UPDATE feature_flags SET enabled = p_enabled, rollout_percentage = p_rollout, updated_at = now()
     WHERE key = p_key;
    INSERT INTO staff_audit (actor_user_id, action, target, before, after, reason, ip)
    VALUES (p_actor, 'flag.changed', p_key,
            jsonb_build_object('enabled', old.enabled, 'rollout_percentage', old.rollout_percentage),
            jsonb_build_object('enabled', p_enabled, 'rollout_percentage', p_rollout),
            nullif(p_reason, ''), p_ip);
    RETURN true;
END $$;

-- Every flag's per-workspace overrides, with the workspace's name.
CREATE POLICY definer_staff ON tenant_features FOR SELECT TO CURRENT_USER USING (true);
CREATE FUNCTION staff_overrides(p_actor uuid)
RETURNS TABLE (feature_key text, tenant_id uuid, tenant_name text, tenant_slug text,
               enabled boolean, expires_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM staff_check(p_actor, 'console.view');
    RETURN QUERY
    SELECT o.feature_key, o.tenant_id, t.name, t.slug, o.enabled, o.expires_at
      FROM tenant_features o JOIN tenants t ON t.id = o.tenant_id
     ORDER BY o.feature_key, t.name;
END $$;

-- Provider events, newest first, with the workspace they name.
CREATE FUNCTION staff_billing_events(p_actor uuid, p_limit integer)
RETURNS TABLE (id text, tenant_id uuid, tenant_name text, type text, created timestamptz,
               received_at timestamptz, outcome text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM staff_check(p_actor, 'console.view');
    RETURN QUERY
    SELECT e.id, e.tenant_id, t.name, e.type, e.created, e.received_at, e.outcome
      FROM billing_events e LEFT JOIN tenants t ON t.id = e.tenant_id
     ORDER BY e.received_at DESC, e.id
     LIMIT least(greatest(p_limit, 1), 500);
END $$;

CREATE FUNCTION staff_billing_event(p_actor uuid, p_id text)
RETURNS TABLE (payload jsonb, outcome text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM staff_check(p_actor, 'billing.replay');
    RETURN QUERY SELECT e.payload, e.outcome FROM billing_events e WHERE e.id = p_id;
END $$;

-- Records what a replay did: the event's workspace (now known, perhaps) and outcome.
CREATE FUNCTION staff_billing_event_replayed(p_actor uuid, p_id text, p_tenant uuid,
                                             p_outcome text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM staff_check(p_actor, 'billing.replay');
    UPDATE billing_events SET tenant_id = coalesce(p_tenant, tenant_id), outcome = p_outcome
     WHERE id = p_id;
END $$;

-- Support access: a staff member opens one workspace read-only, for an hour at most,
-- with a reason. The workspace's audit log records the opening and the closing.
CREATE TABLE support_sessions (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    staff_user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reason        text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    opened_at     timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    closed_at     timestamptz
);
CREATE INDEX support_sessions_tenant ON support_sessions (tenant_id, opened_at DESC);
-- A workspace may read its own support sessions; only the functions below write them.
ALTER TABLE support_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE support_sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON support_sessions USING (tenant_id = (SELECT app_tenant()));
CREATE POLICY definer_support ON support_sessions TO CURRENT_USER USING (true) WITH CHECK (true);

CREATE FUNCTION staff_support_open(p_actor uuid, p_tenant uuid, p_reason text, p_minutes integer,
                                   p_ip text) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    grant_id uuid;
BEGIN
    PERFORM staff_check(p_actor, 'support.access');
    IF NOT EXISTS (SELECT 1 FROM tenants WHERE id = p_tenant AND status = 'ACTIVE') THEN
        RETURN NULL;
    END IF;
    INSERT INTO support_sessions (tenant_id, staff_user_id, reason, expires_at)
    VALUES (p_tenant, p_actor, p_reason, now() + least(greatest(p_minutes, 1), 60) * interval '1 minute')
    RETURNING id INTO grant_id;
    INSERT INTO staff_audit (actor_user_id, action, target, after, reason, ip)
    SELECT p_actor, 'support.opened', t.name || ' (' || t.slug || ')',
           jsonb_build_object('tenant_id', p_tenant, 'grant', grant_id), p_reason, p_ip
      FROM tenants t WHERE t.id = p_tenant;
    RETURN grant_id;
END $$;

-- The workspace a support grant opens, while it is open and its holder still may.
CREATE FUNCTION staff_support_lookup(p_grant uuid, p_user uuid)
RETURNS TABLE (tenant_id uuid, expires_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT s.tenant_id, s.expires_at FROM support_sessions s JOIN tenants t ON t.id = s.tenant_id
     WHERE s.id = p_grant AND s.staff_user_id = p_user AND s.closed_at IS NULL
       AND s.expires_at > now() AND t.status = 'ACTIVE' AND staff_may(p_user, 'support.access')
$$;

-- Ends a grant early; the workspace it was for, if it was open.
CREATE FUNCTION staff_support_close(p_actor uuid, p_grant uuid, p_ip text) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    closed uuid;
BEGIN
    UPDATE support_sessions SET closed_at = now()
     WHERE id = p_grant AND staff_user_id = p_actor AND closed_at IS NULL
    RETURNING tenant_id INTO closed;
    IF closed IS NOT NULL THEN
        INSERT INTO staff_audit (actor_user_id, action, target, after, ip)
        SELECT p_actor, 'support.closed', t.name || ' (' || t.slug || ')',
               jsonb_build_object('tenant_id', closed, 'grant', p_grant), p_ip
          FROM tenants t WHERE t.id = closed;
    END IF;
    RETURN closed;
END $$;

DO $$
DECLARE f text;
BEGIN
    FOREACH f IN ARRAY ARRAY[
        'staff_role(uuid)', 'staff_may(uuid, text)', 'staff_check(uuid, text)',
        'staff_permissions_of(uuid)', 'staff_tenants(uuid, text, integer)', 'staff_mrr(uuid)',
        'staff_figures(uuid)', 'staff_audit_add(uuid, text, text, jsonb, jsonb, text, text)',
        'staff_audit_page(uuid, integer)',
        'staff_set_flag(uuid, text, boolean, integer, text, text)', 'staff_overrides(uuid)',
        'staff_billing_events(uuid, integer)', 'staff_billing_event(uuid, text)',
        'staff_billing_event_replayed(uuid, text, uuid, text)',
        'staff_support_open(uuid, uuid, text, integer, text)', 'staff_support_lookup(uuid, uuid)',
        'staff_support_close(uuid, uuid, text)']
    LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END $$;
