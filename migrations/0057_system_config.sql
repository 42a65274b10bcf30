-- Issue 13: platform settings staff change at runtime (seed 003 `system_config`). The
-- app reads them (the runtime role may SELECT); only staff_set_config() writes, with
-- `config.manage`, recording before and after (masked when sensitive) in the staff log.
CREATE TABLE system_config (
    key          text PRIMARY KEY CHECK (key ~ '^[a-z_.]+$'),
    value        jsonb NOT NULL,
    description  text NOT NULL CHECK (length(description) <= 500),
    category     text NOT NULL DEFAULT 'general',
    is_sensitive boolean NOT NULL DEFAULT false,
    updated_by   uuid REFERENCES users (id) ON DELETE SET NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
INSERT INTO system_config (key, value, description, category) VALUES
    ('billing.trial_days', '14', 'Days of trial a new workspace gets on its plan', 'billing'),
    ('billing.dunning_days', '[1, 3, 5, 7]', 'Days after a failed charge when it is tried again; after the last, the workspace becomes read-only', 'billing'),
    ('support.minutes', '60', 'How long staff support access to a workspace lasts', 'staff');

INSERT INTO staff_permissions (key, description) VALUES
    ('config.manage', 'Change platform settings');
INSERT INTO staff_role_permissions (role_key, permission_key) VALUES
    ('owner', 'config.manage'), ('engineer', 'config.manage');

CREATE FUNCTION staff_set_config(p_actor uuid, p_key text, p_value jsonb, p_reason text,
                                 p_ip text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    old system_config%ROWTYPE;
BEGIN
    PERFORM staff_check(p_actor, 'config.manage');
    SELECT * INTO old FROM system_config WHERE key = p_key FOR UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    UPDATE system_config SET value = p_value, updated_by = p_actor, updated_at = now()
     WHERE key = p_key;
    INSERT INTO staff_audit (actor_user_id, action, target, before, after, reason, ip)
    VALUES (p_actor, 'config.changed', p_key,
            CASE WHEN old.is_sensitive THEN '"(hidden)"'::jsonb ELSE old.value END,
            CASE WHEN old.is_sensitive THEN '"(hidden)"'::jsonb ELSE p_value END,
            nullif(p_reason, ''), p_ip);
    RETURN true;
END $$;
REVOKE ALL ON FUNCTION staff_set_config(uuid, text, jsonb, text, text) FROM PUBLIC;

-- Who last changed a setting, for the console (users are not readable across
-- workspaces by the runtime role).
CREATE FUNCTION staff_config(p_actor uuid)
RETURNS TABLE (key text, value jsonb, description text, category text, is_sensitive boolean,
               updated_at timestamptz, updated_by_name text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM staff_check(p_actor, 'console.view');
    RETURN QUERY
    SELECT c.key, CASE WHEN c.is_sensitive THEN NULL ELSE c.value END, c.description, c.category,
           c.is_sensitive, c.updated_at, u.name
      FROM system_config c LEFT JOIN users u ON u.id = c.updated_by
     ORDER BY c.category, c.key;
END $$;
REVOKE ALL ON FUNCTION staff_config(uuid) FROM PUBLIC;
