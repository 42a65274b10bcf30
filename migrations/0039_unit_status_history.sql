-- Issue 12: every status a unit had, on its page. A trigger writes it whatever made the
-- change (a member, a deal's stage or outcome, the expiry sweep, a bulk change, a
-- spreadsheet import), with the member when there is one.
CREATE TABLE unit_status_history (
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          uuid NOT NULL DEFAULT gen_random_uuid(),
    unit_id     uuid NOT NULL,
    from_status text NOT NULL,
    to_status   text NOT NULL,
    -- The member whose request changed it; NULL for the platform's sweeps.
    changed_by  uuid,
    changed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    FOREIGN KEY (tenant_id, unit_id) REFERENCES units (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX unit_status_history_unit ON unit_status_history (tenant_id, unit_id, changed_at);
ALTER TABLE unit_status_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE unit_status_history FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON unit_status_history USING (tenant_id = (SELECT app_tenant()))
    WITH CHECK (tenant_id = (SELECT app_tenant()));
-- The expiry sweep runs as the owner across tenants (release_expired_holds).
CREATE POLICY definer_status ON unit_status_history TO CURRENT_USER USING (true) WITH CHECK (true);

CREATE FUNCTION units_status_log() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO unit_status_history (tenant_id, unit_id, from_status, to_status, changed_by, changed_at)
    VALUES (NEW.tenant_id, NEW.id, OLD.status, NEW.status, app_user(),
            -- The sweep dates its changes by its (possibly moved) clock.
            CASE WHEN NEW.updated_at IS DISTINCT FROM OLD.updated_at THEN NEW.updated_at ELSE now() END);
    RETURN NULL;
END $$;
CREATE TRIGGER units_status_logged AFTER UPDATE OF status ON units
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION units_status_log();
