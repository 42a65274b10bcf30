-- Platform schema: users, tenants, memberships, invites, policies, flags, audit, sessions.
--
-- Tenancy rules (see docs/DECISIONS.md):
-- * every tenant table has tenant_id, UNIQUE (tenant_id, id) and composite foreign keys;
-- * ENABLE + FORCE ROW LEVEL SECURITY with USING and WITH CHECK on app_tenant();
-- * the runtime role owns nothing and has no BYPASSRLS; lookups that come before a
--   tenant is chosen go through the SECURITY DEFINER functions at the end, which may
--   read past RLS thanks to policies granted TO the migrating role only.

CREATE EXTENSION IF NOT EXISTS citext;

-- The tenant and user of the current transaction, set by the app with
-- set_config(..., true). NULLIF: after a transaction that set them ends, the settings
-- read as '' rather than NULL, and ''::uuid would raise.
CREATE FUNCTION app_tenant() RETURNS uuid LANGUAGE sql STABLE AS
$$ SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid $$;
CREATE FUNCTION app_user() RETURNS uuid LANGUAGE sql STABLE AS
$$ SELECT NULLIF(current_setting('app.user_id', true), '')::uuid $$;

-- ---------------------------------------------------------------- global tables

CREATE TABLE users (
    id              uuid PRIMARY KEY,
    email           citext NOT NULL UNIQUE CHECK (length(email) BETWEEN 3 AND 254),
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    password_hash   text NOT NULL,
    failed_logins   integer NOT NULL DEFAULT 0,
    locked_until    timestamptz,
    totp_secret     text,
    totp_enabled_at timestamptz,
    last_login_at   timestamptz,
    last_tenant_id  uuid,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE user_preferences (
    user_id    uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    language   text CHECK (language IN ('en', 'ar')),
    timezone   text,
    theme      text NOT NULL DEFAULT 'light' CHECK (theme IN ('light', 'dark', 'system')),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE recovery_codes (
    user_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash bytea NOT NULL,
    used_at   timestamptz,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE plans (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    seats_limit integer NOT NULL CHECK (seats_limit >= 1),
    features    jsonb NOT NULL DEFAULT '[]',
    sort_order  integer NOT NULL DEFAULT 0
);
INSERT INTO plans (id, name, seats_limit, sort_order) VALUES
    ('free', 'Free', 3, 0),
    ('starter', 'Starter', 10, 1),
    ('pro', 'Pro', 50, 2);

CREATE TABLE feature_flags (
    key                text PRIMARY KEY CHECK (key ~ '^[a-z0-9_.]+$'),
    description        text NOT NULL DEFAULT '',
    enabled            boolean NOT NULL DEFAULT false,
    rollout_percentage integer NOT NULL DEFAULT 0 CHECK (rollout_percentage BETWEEN 0 AND 100),
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- tower-sessions store. Not tenant data: a session is found by its random id before
-- anyone is known. user_id is copied out of the record so "my sessions" can list them.
CREATE TABLE sessions (
    id           text PRIMARY KEY,
    data         jsonb NOT NULL,
    expiry_date  timestamptz NOT NULL,
    user_id      uuid REFERENCES users (id) ON DELETE CASCADE,
    user_agent   text,
    ip           text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sessions_user ON sessions (user_id, last_seen_at DESC);
CREATE INDEX sessions_expiry ON sessions (expiry_date);

-- ---------------------------------------------------------------- tenants

CREATE TABLE tenants (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    status      text NOT NULL DEFAULT 'ACTIVE'
                CHECK (status IN ('PENDING_VERIFICATION', 'ACTIVE', 'SUSPENDED', 'DELETED')),
    locale      text NOT NULL DEFAULT 'en' CHECK (locale IN ('en', 'ar')),
    timezone    text NOT NULL DEFAULT 'UTC',
    brand_color text NOT NULL DEFAULT '#4f46e5' CHECK (brand_color ~ '^#[0-9a-fA-F]{6}$'),
    logo_url    text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tenant_policies (
    tenant_id            uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    password_min_length  integer NOT NULL DEFAULT 10 CHECK (password_min_length BETWEEN 8 AND 128),
    require_uppercase    boolean NOT NULL DEFAULT false,
    require_lowercase    boolean NOT NULL DEFAULT false,
    require_digit        boolean NOT NULL DEFAULT false,
    require_symbol       boolean NOT NULL DEFAULT false,
    session_idle_minutes integer NOT NULL DEFAULT 480 CHECK (session_idle_minutes BETWEEN 5 AND 43200),
    max_failed_logins    integer NOT NULL DEFAULT 5 CHECK (max_failed_logins BETWEEN 3 AND 100),
    lockout_minutes      integer NOT NULL DEFAULT 15 CHECK (lockout_minutes BETWEEN 1 AND 1440),
    two_factor_required  boolean NOT NULL DEFAULT false,
    updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE subscriptions (
    id                   uuid NOT NULL,
    tenant_id            uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    plan_id              text NOT NULL REFERENCES plans (id),
    status               text NOT NULL DEFAULT 'ACTIVE'
                         CHECK (status IN ('TRIALING', 'ACTIVE', 'PAST_DUE', 'CANCELLED', 'UNPAID')),
    current_period_start timestamptz NOT NULL DEFAULT now(),
    current_period_end   timestamptz NOT NULL DEFAULT now() + interval '30 days',
    created_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id)
);

CREATE TABLE memberships (
    id         uuid NOT NULL PRIMARY KEY,
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       text NOT NULL CHECK (role IN ('OWNER', 'ADMIN', 'MANAGER', 'SALES')),
    status     text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'SUSPENDED')),
    manager_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, user_id),
    FOREIGN KEY (tenant_id, manager_id) REFERENCES memberships (tenant_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE invites (
    id          uuid NOT NULL PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email       citext NOT NULL,
    role        text NOT NULL CHECK (role IN ('ADMIN', 'MANAGER', 'SALES')),
    token_hash  bytea NOT NULL UNIQUE,
    invited_by  uuid NOT NULL,
    status      text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'ACCEPTED', 'REVOKED')),
    expires_at  timestamptz NOT NULL,
    accepted_at timestamptz,
    accepted_by uuid REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, invited_by) REFERENCES memberships (tenant_id, user_id)
);
-- One open invite per address and tenant: resending replaces the token.
CREATE UNIQUE INDEX invites_open_email ON invites (tenant_id, email) WHERE status = 'PENDING';

CREATE TABLE tenant_features (
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          uuid NOT NULL,
    feature_key text NOT NULL REFERENCES feature_flags (key) ON DELETE CASCADE,
    enabled     boolean NOT NULL,
    expires_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, feature_key),
    UNIQUE (tenant_id, id)
);

CREATE TABLE audit_logs (
    id            uuid NOT NULL PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    actor_user_id uuid REFERENCES users (id),
    action        text NOT NULL,
    entity_type   text NOT NULL,
    entity_id     uuid,
    before        jsonb,
    after         jsonb,
    ip            text,
    user_agent    text,
    request_id    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id)
);
CREATE INDEX audit_logs_page ON audit_logs (tenant_id, created_at DESC, id DESC);
CREATE INDEX audit_logs_actor ON audit_logs (tenant_id, actor_user_id, created_at DESC);
CREATE INDEX audit_logs_entity ON audit_logs (tenant_id, entity_type, created_at DESC);

CREATE FUNCTION audit_logs_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_logs is append-only (% rejected)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_logs_no_change BEFORE UPDATE OR DELETE ON audit_logs
    FOR EACH ROW EXECUTE FUNCTION audit_logs_append_only();
CREATE TRIGGER audit_logs_no_truncate BEFORE TRUNCATE ON audit_logs
    FOR EACH STATEMENT EXECUTE FUNCTION audit_logs_append_only();

-- ---------------------------------------------------------------- row-level security

-- The standard wall for every table with a tenant_id.
DO $$
DECLARE t text;
BEGIN
    FOR t IN SELECT unnest(ARRAY['tenant_policies', 'subscriptions', 'memberships', 'invites',
                                 'tenant_features', 'audit_logs'])
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = (SELECT app_tenant())) '
                       'WITH CHECK (tenant_id = (SELECT app_tenant()))', t);
        -- Lets the SECURITY DEFINER lookups below (owned by this role) read past RLS
        -- when this role is a plain owner rather than a superuser.
        EXECUTE format('CREATE POLICY definer_lookup ON %I FOR SELECT TO CURRENT_USER USING (true)', t);
    END LOOP;
END $$;

-- A signed-in user lists their own memberships (tenant switcher) before a tenant is set.
CREATE POLICY own_memberships ON memberships FOR SELECT USING (user_id = (SELECT app_user()));

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY current_tenant ON tenants
    USING (id = (SELECT app_tenant())) WITH CHECK (id = (SELECT app_tenant()));
CREATE POLICY member_tenants ON tenants FOR SELECT
    USING (id IN (SELECT tenant_id FROM memberships WHERE user_id = (SELECT app_user())));
CREATE POLICY definer_lookup ON tenants FOR SELECT TO CURRENT_USER USING (true);

-- Users hold password hashes: a user sees themself and the people of the current tenant.
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
CREATE POLICY self ON users USING (id = (SELECT app_user())) WITH CHECK (id = (SELECT app_user()));
CREATE POLICY tenant_members ON users FOR SELECT
    USING (id IN (SELECT user_id FROM memberships WHERE tenant_id = (SELECT app_tenant())));
CREATE POLICY definer_lookup ON users FOR SELECT TO CURRENT_USER USING (true);

ALTER TABLE user_preferences ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_preferences FORCE ROW LEVEL SECURITY;
CREATE POLICY self ON user_preferences
    USING (user_id = (SELECT app_user())) WITH CHECK (user_id = (SELECT app_user()));

ALTER TABLE recovery_codes ENABLE ROW LEVEL SECURITY;
ALTER TABLE recovery_codes FORCE ROW LEVEL SECURITY;
CREATE POLICY self ON recovery_codes
    USING (user_id = (SELECT app_user())) WITH CHECK (user_id = (SELECT app_user()));

-- ---------------------------------------------------------------- narrow lookups

-- Login: the id of the account with this email, and the strictest lockout rule of the
-- tenants it belongs to. Nothing else about the user leaves this function.
CREATE FUNCTION auth_login_lookup(p_email text)
RETURNS TABLE (user_id uuid, max_failed_logins integer, lockout_minutes integer)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT u.id,
           COALESCE(min(p.max_failed_logins), 5),
           COALESCE(max(p.lockout_minutes), 15)
      FROM users u
      LEFT JOIN memberships m ON m.user_id = u.id AND m.status = 'ACTIVE'
      LEFT JOIN tenant_policies p ON p.tenant_id = m.tenant_id
     WHERE u.email = p_email::citext
     GROUP BY u.id
$$;

-- Invite acceptance: the invite behind a token hash, before any tenant is chosen.
CREATE FUNCTION invite_lookup(p_token_hash bytea)
RETURNS TABLE (id uuid, tenant_id uuid, tenant_name text, email text, role text,
               status text, expires_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT i.id, i.tenant_id, t.name, i.email::text, i.role, i.status, i.expires_at
      FROM invites i JOIN tenants t ON t.id = i.tenant_id
     WHERE i.token_hash = p_token_hash
$$;

REVOKE ALL ON FUNCTION auth_login_lookup(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION invite_lookup(bytea) FROM PUBLIC;
