-- The signed-in user's active workspaces, for the tenant switcher and the shell's
-- branding, read inside the current tenant's transaction. Without it every page ran a
-- second transaction with no tenant set (where own_memberships and member_tenants
-- apply) just for this list. It answers only for app_user(), which the runtime role
-- could already set in a user transaction and read the same rows: no new reach.
CREATE FUNCTION my_workspaces()
RETURNS TABLE (id uuid, name text, role text, brand_color text, logo_url text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT t.id, t.name, m.role, t.brand_color, t.logo_url
      FROM memberships m JOIN tenants t ON t.id = m.tenant_id
     WHERE m.user_id = (SELECT app_user()) AND m.status = 'ACTIVE' AND t.status = 'ACTIVE'
$$;
REVOKE ALL ON FUNCTION my_workspaces() FROM PUBLIC;
