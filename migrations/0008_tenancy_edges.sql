-- Tenancy edges: policies that let a member's other tenants into tenant queries, and
-- SECURITY DEFINER functions that could resolve names through a temporary schema.

-- A user's own memberships and the tenants they belong to are visible only before a
-- tenant is chosen (Db::user_tx: login, the tenant switcher). Inside a tenant
-- transaction they made the user's rows in OTHER tenants visible too, so every
-- unfiltered count or list of memberships (seats, owners, the team) and every
-- `FROM tenants` read took in the other workspaces.
ALTER POLICY own_memberships ON memberships
    USING ((SELECT app_tenant()) IS NULL AND user_id = (SELECT app_user()));
ALTER POLICY member_tenants ON tenants
    USING ((SELECT app_tenant()) IS NULL
           AND id IN (SELECT tenant_id FROM memberships WHERE user_id = (SELECT app_user())));

-- pg_temp is searched first unless it is named: without it last, a role that can
-- create temporary tables could shadow a table or function these definers use.
ALTER FUNCTION claim_job() SET search_path = public, pg_temp;
ALTER FUNCTION search_ids(text, text[], integer) SET search_path = public, pg_temp;
ALTER FUNCTION claim_due_enrollments(integer) SET search_path = public, pg_temp;
ALTER FUNCTION wa_phone_route(text) SET search_path = public, pg_temp;
ALTER FUNCTION message_route(uuid) SET search_path = public, pg_temp;
ALTER FUNCTION claim_outbox(integer) SET search_path = public, pg_temp;

-- Nobody but the owner creates objects in public (PostgreSQL 15 and later already
-- default to this; older servers grant CREATE to everyone).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
