-- Issue 12: uploaded plan files, live map updates and hold reminders.

-- A plan's drawing, stored in the file store (app/src/files.rs) under `file_key`;
-- `file_version` changes with each upload so browsers may cache one forever.
ALTER TABLE floor_plans
    ADD COLUMN kind         text NOT NULL DEFAULT 'FLOOR' CHECK (kind IN ('FLOOR', 'SITE')),
    ADD COLUMN file_key     text CHECK (length(file_key) <= 300),
    ADD COLUMN content_type text CHECK (content_type IN ('image/png', 'image/jpeg', 'image/webp', 'image/svg+xml')),
    ADD COLUMN file_bytes   integer CHECK (file_bytes > 0),
    ADD COLUMN dpi          integer CHECK (dpi BETWEEN 1 AND 10000),
    ADD COLUMN file_version integer NOT NULL DEFAULT 0,
    ADD COLUMN updated_at   timestamptz NOT NULL DEFAULT now();
ALTER TABLE floor_plans ADD CONSTRAINT floor_plans_file_whole
    CHECK ((file_key IS NULL) = (content_type IS NULL) AND (file_key IS NULL) = (file_bytes IS NULL));
ALTER TABLE floor_plans ADD CONSTRAINT floor_plans_name_unique UNIQUE (tenant_id, project_id, name);

-- A unit's status or price changed, by whatever path (a member, a deal's outcome, the
-- expiry sweep, a bulk change): open maps of the tenant re-read. One payload per
-- tenant, so PostgreSQL folds a bulk change of many units into one notification.
CREATE FUNCTION units_announce() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('live_changes', json_build_object('k', 'unit', 't', NEW.tenant_id)::text);
    RETURN NULL;
END $$;
CREATE TRIGGER units_changed AFTER UPDATE OF status, price_minor ON units
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.price_minor IS DISTINCT FROM NEW.price_minor)
    EXECUTE FUNCTION units_announce();
CREATE TRIGGER units_added AFTER INSERT ON units FOR EACH ROW EXECUTE FUNCTION units_announce();

-- A hold's owner is told before it lapses, once.
ALTER TABLE tenant_policies ADD COLUMN hold_reminder_hours integer NOT NULL DEFAULT 6
    CHECK (hold_reminder_hours BETWEEN 0 AND 168);
ALTER TABLE unit_holds ADD COLUMN reminded_at timestamptz;

ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check
    CHECK (kind IN ('SEND_FAILED', 'SENDER_PAUSED', 'REPLY', 'REVIEW_ASSIGNED', 'SLA_BREACH', 'JOB_FINISHED',
                    'WEBHOOK_DISABLED', 'PAYMENT_FAILED', 'USAGE_WARNING',
                    'APPROVAL_REQUESTED', 'APPROVAL_DECIDED', 'TASK_DUE', 'MENTION', 'HOLD_EXPIRING'));

-- Across tenants (the worker's `inventory.holds` schedule, before the release): live
-- holds that end within the tenant's reminder window tell their holder, once.
CREATE FUNCTION remind_lapsing_holds(p_now timestamptz) RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH due AS (
        UPDATE unit_holds h SET reminded_at = p_now
         WHERE h.released_at IS NULL AND h.reminded_at IS NULL AND h.expires_at > p_now
           AND h.expires_at <= p_now + make_interval(hours => coalesce(
                   (SELECT tp.hold_reminder_hours FROM tenant_policies tp WHERE tp.tenant_id = h.tenant_id), 6))
        RETURNING h.tenant_id, h.held_by, h.unit_id, h.deal_id, h.expires_at
    ), told AS (
        INSERT INTO notifications (tenant_id, id, user_id, kind, body, link)
        SELECT d.tenant_id, gen_random_uuid(), d.held_by, 'HOLD_EXPIRING',
               'Hold on ' || u.code || ' for ' || left(dl.name, 150) || ' ends '
                   || to_char(d.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC',
               '/inventory/units/' || d.unit_id
          FROM due d
          JOIN units u ON u.tenant_id = d.tenant_id AND u.id = d.unit_id
          JOIN deals dl ON dl.tenant_id = d.tenant_id AND dl.id = d.deal_id
          JOIN memberships m ON m.tenant_id = d.tenant_id AND m.user_id = d.held_by AND m.status = 'ACTIVE'
        RETURNING 1
    )
    SELECT count(*) FROM told
$$;
CREATE POLICY definer_hold_reminders ON deals TO CURRENT_USER USING (true);
CREATE POLICY definer_hold_reminders ON tenant_policies TO CURRENT_USER USING (true);
REVOKE ALL ON FUNCTION remind_lapsing_holds(timestamptz) FROM PUBLIC;
