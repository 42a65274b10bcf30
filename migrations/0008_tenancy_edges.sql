-- Tenancy edges: policies that let a member's other tenants into tenant queries.

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
