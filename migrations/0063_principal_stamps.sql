-- Issue 16: a signed-in request used to run a transaction of three round trips just to
-- learn who is asking (membership, role, grants, preferences, policy, workspaces). The
-- server now keeps that answer per process and asks the database only when it may
-- have changed: every change to what it is read from bumps the user's stamp in the
-- same transaction, and the session row is read together with the stamp. A cached
-- answer is used only under the stamp it was read at, so no request ever sees an
-- answer older than the last committed change (DECISIONS 88).
--
-- No foreign key to users: a user's deletion cascades to their memberships, whose
-- trigger bumps the user being deleted.
CREATE TABLE principal_stamps (
    user_id uuid PRIMARY KEY,
    stamp   bigint NOT NULL DEFAULT 0
);

-- In user id order, so two bumps of overlapping members cannot deadlock.
CREATE FUNCTION principal_stamps_bump(p_users uuid[]) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    INSERT INTO principal_stamps AS s (user_id, stamp)
    SELECT DISTINCT u, 1 FROM unnest(p_users) u WHERE u IS NOT NULL ORDER BY u
    ON CONFLICT (user_id) DO UPDATE SET stamp = s.stamp + 1
$$;
REVOKE ALL ON FUNCTION principal_stamps_bump(uuid[]) FROM PUBLIC;

-- A row that belongs to one user changed; TG_ARGV[0] names its user column. Both the
-- old and the new user are bumped (a row can move between users).
CREATE FUNCTION principal_stamps_user_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM principal_stamps_bump(ARRAY[
        CASE WHEN TG_OP <> 'INSERT' THEN (to_jsonb(OLD) ->> TG_ARGV[0])::uuid END,
        CASE WHEN TG_OP <> 'DELETE' THEN (to_jsonb(NEW) ->> TG_ARGV[0])::uuid END
    ]);
    RETURN NULL;
END $$;

-- A row that belongs to one workspace changed; TG_ARGV[0] names its tenant column.
-- Every member's stamp is bumped: a workspace's name or status is in each member's
-- list of workspaces, and its policy and billing state in each member's answer.
CREATE FUNCTION principal_stamps_tenant_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    t uuid := (CASE WHEN TG_OP = 'DELETE' THEN to_jsonb(OLD) ELSE to_jsonb(NEW) END ->> TG_ARGV[0])::uuid;
BEGIN
    PERFORM principal_stamps_bump(ARRAY(SELECT user_id FROM memberships WHERE tenant_id = t));
    RETURN NULL;
END $$;

-- What `auth::ssr::resolve_principal` reads, table by table.
CREATE TRIGGER principal_stamps AFTER INSERT OR DELETE OR UPDATE OF role, grants, status, user_id, tenant_id
    ON memberships FOR EACH ROW EXECUTE FUNCTION principal_stamps_user_changed('user_id');
CREATE TRIGGER principal_stamps AFTER UPDATE OF email, name, totp_enabled_at, email_verified_at
    ON users FOR EACH ROW EXECUTE FUNCTION principal_stamps_user_changed('id');
CREATE TRIGGER principal_stamps AFTER INSERT OR DELETE OR UPDATE
    ON user_preferences FOR EACH ROW EXECUTE FUNCTION principal_stamps_user_changed('user_id');
CREATE TRIGGER principal_stamps AFTER INSERT OR DELETE OR UPDATE
    ON staff_members FOR EACH ROW EXECUTE FUNCTION principal_stamps_user_changed('user_id');
CREATE TRIGGER principal_stamps AFTER UPDATE OF name, status, locale, timezone, number_system, brand_color, logo_url
    ON tenants FOR EACH ROW EXECUTE FUNCTION principal_stamps_tenant_changed('id');
CREATE TRIGGER principal_stamps AFTER UPDATE OF two_factor_required, require_verified_email
    ON tenant_policies FOR EACH ROW EXECUTE FUNCTION principal_stamps_tenant_changed('tenant_id');
CREATE TRIGGER principal_stamps AFTER INSERT OR UPDATE OF status
    ON subscriptions FOR EACH ROW EXECUTE FUNCTION principal_stamps_tenant_changed('tenant_id');
CREATE TRIGGER principal_stamps AFTER INSERT OR UPDATE OF status
    ON invoices FOR EACH ROW EXECUTE FUNCTION principal_stamps_tenant_changed('tenant_id');
