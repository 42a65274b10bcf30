-- The notification centre (seed 004 `notifications`): each member chooses, per kind,
-- whether it shows in the app (bell and page) and whether it goes into their daily
-- email digest. No row is the default: in the app, not emailed.

CREATE TABLE notification_prefs (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL,
    kind       text NOT NULL,
    in_app     boolean NOT NULL DEFAULT true,
    email      boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_id, kind),
    FOREIGN KEY (tenant_id, user_id) REFERENCES memberships (tenant_id, user_id) ON DELETE CASCADE
);
ALTER TABLE notification_prefs ENABLE ROW LEVEL SECURITY;
ALTER TABLE notification_prefs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON notification_prefs USING (tenant_id = (SELECT app_tenant()))
    WITH CHECK (tenant_id = (SELECT app_tenant()));
-- Read by the insert trigger below and the digest, which run for any tenant.
CREATE POLICY definer_prefs ON notification_prefs TO CURRENT_USER USING (true);

ALTER TABLE notifications
    ADD COLUMN in_app     boolean NOT NULL DEFAULT true,
    -- Sent in a digest email; each notification goes out at most once.
    ADD COLUMN emailed_at timestamptz;
CREATE INDEX notifications_digest ON notifications (created_at)
    WHERE read_at IS NULL AND emailed_at IS NULL;
CREATE POLICY definer_digest ON notifications TO CURRENT_USER USING (true) WITH CHECK (true);

-- Every insert, from the app or a sweep, follows the member's choice: off in both
-- places drops it; off in the app only keeps it for the digest.
CREATE FUNCTION notifications_apply_prefs() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    pref notification_prefs%ROWTYPE;
BEGIN
    SELECT * INTO pref FROM notification_prefs
     WHERE tenant_id = NEW.tenant_id AND user_id = NEW.user_id AND kind = NEW.kind;
    IF FOUND THEN
        IF NOT pref.in_app AND NOT pref.email THEN
            RETURN NULL;
        END IF;
        NEW.in_app := pref.in_app;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER notifications_prefs BEFORE INSERT ON notifications
    FOR EACH ROW EXECUTE FUNCTION notifications_apply_prefs();

-- The digest's work list, across tenants: unread notifications not yet emailed, of
-- kinds their member wants by email, from the last week, oldest first per member.
CREATE FUNCTION notices_digest_pending(p_now timestamptz, p_limit integer)
RETURNS TABLE (id uuid, tenant_id uuid, user_id uuid, email text, user_name text, tenant_name text,
               locale text, kind text, body text, link text, created_at timestamptz)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT n.id, n.tenant_id, n.user_id, u.email::text, u.name, t.name, t.locale, n.kind, n.body, n.link, n.created_at
      FROM notifications n
      JOIN notification_prefs p ON p.tenant_id = n.tenant_id AND p.user_id = n.user_id AND p.kind = n.kind
      JOIN memberships m ON m.tenant_id = n.tenant_id AND m.user_id = n.user_id AND m.status = 'ACTIVE'
      JOIN users u ON u.id = n.user_id
      JOIN tenants t ON t.id = n.tenant_id
     WHERE p.email AND n.read_at IS NULL AND n.emailed_at IS NULL
       AND n.created_at > p_now - interval '7 days' AND n.created_at <= p_now
     ORDER BY n.tenant_id, n.user_id, n.created_at
     LIMIT p_limit
$$;
REVOKE ALL ON FUNCTION notices_digest_pending(timestamptz, integer) FROM PUBLIC;

CREATE FUNCTION notices_digest_sent(p_ids uuid[], p_now timestamptz) RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH sent AS (UPDATE notifications SET emailed_at = p_now WHERE id = ANY (p_ids) AND emailed_at IS NULL RETURNING 1)
    SELECT count(*) FROM sent
$$;
REVOKE ALL ON FUNCTION notices_digest_sent(uuid[], timestamptz) FROM PUBLIC;

INSERT INTO schedules (name, cron) VALUES ('notices.digest', '0 0 7 * * *');
