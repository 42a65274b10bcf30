-- Issue 15: meetings have a start, an end and attendees, and each member has a private
-- calendar feed (RFC 5545) that calendar apps subscribe to.
--
-- A meeting logged before this migration has neither time; it stays a plain timeline
-- entry and is not in any feed.
ALTER TABLE activities
    ADD COLUMN starts_at timestamptz,
    ADD COLUMN ends_at timestamptz,
    ADD CONSTRAINT activities_meeting_times CHECK (
        (starts_at IS NULL AND ends_at IS NULL)
        OR (kind = 'MEETING' AND starts_at IS NOT NULL AND ends_at > starts_at
            AND ends_at - starts_at <= interval '7 days'));
-- A member's meetings in a window (the feed, My tasks).
CREATE INDEX activities_meetings ON activities (tenant_id, starts_at)
    WHERE kind = 'MEETING' AND starts_at IS NOT NULL;

-- The members invited to a meeting; the person who logged it is always one.
CREATE TABLE meeting_attendees (
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    activity_id uuid NOT NULL,
    user_id     uuid NOT NULL,
    PRIMARY KEY (activity_id, user_id),
    FOREIGN KEY (tenant_id, activity_id) REFERENCES activities (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES memberships (tenant_id, user_id) ON DELETE CASCADE
);
CREATE INDEX meeting_attendees_user ON meeting_attendees (tenant_id, user_id);
ALTER TABLE meeting_attendees ENABLE ROW LEVEL SECURITY;
ALTER TABLE meeting_attendees FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON meeting_attendees USING (tenant_id = (SELECT app_tenant()))
    WITH CHECK (tenant_id = (SELECT app_tenant()));

-- One feed per member and workspace. Only the SHA-256 of the token is kept: the URL is
-- shown once, and a stolen database does not give anyone's calendar away.
CREATE TABLE calendar_feeds (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL,
    token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES memberships (tenant_id, user_id) ON DELETE CASCADE
);
ALTER TABLE calendar_feeds ENABLE ROW LEVEL SECURITY;
ALTER TABLE calendar_feeds FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON calendar_feeds USING (tenant_id = (SELECT app_tenant()))
    WITH CHECK (tenant_id = (SELECT app_tenant()));

-- A calendar app has no session: the token alone names the workspace and member. Only
-- an active member of an active workspace gets an answer.
CREATE FUNCTION calendar_feed_lookup(p_token_hash bytea)
RETURNS TABLE (tenant_id uuid, user_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT f.tenant_id, f.user_id
      FROM calendar_feeds f
      JOIN memberships m ON m.tenant_id = f.tenant_id AND m.user_id = f.user_id AND m.status = 'ACTIVE'
      JOIN tenants t ON t.id = f.tenant_id AND t.status = 'ACTIVE'
     WHERE f.token_hash = p_token_hash
$$;
REVOKE ALL ON FUNCTION calendar_feed_lookup(bytea) FROM PUBLIC;

-- Lists get a colour and a description (issue 15), so a team tells its lists apart.
ALTER TABLE lists
    ADD COLUMN description text CHECK (description IS NULL OR length(description) <= 500),
    ADD COLUMN color text NOT NULL DEFAULT '#64748b' CHECK (color ~ '^#[0-9a-f]{6}$');

-- The notification digest speaks each member's language and shows times on their clock
-- (it used the workspace's language and UTC).
DROP FUNCTION notices_digest_pending(timestamptz, integer);
CREATE FUNCTION notices_digest_pending(p_now timestamptz, p_limit integer)
RETURNS TABLE (id uuid, tenant_id uuid, user_id uuid, email text, user_name text, tenant_name text,
               locale text, timezone text, kind text, body text, link text, created_at timestamptz)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT n.id, n.tenant_id, n.user_id, u.email::text, u.name, t.name,
           coalesce(pr.language, t.locale), coalesce(pr.timezone, t.timezone),
           n.kind, n.body, n.link, n.created_at
      FROM notifications n
      JOIN notification_prefs p ON p.tenant_id = n.tenant_id AND p.user_id = n.user_id AND p.kind = n.kind
      JOIN memberships m ON m.tenant_id = n.tenant_id AND m.user_id = n.user_id AND m.status = 'ACTIVE'
      JOIN users u ON u.id = n.user_id
      JOIN tenants t ON t.id = n.tenant_id
      LEFT JOIN user_preferences pr ON pr.user_id = n.user_id
     WHERE p.email AND n.read_at IS NULL AND n.emailed_at IS NULL
       AND n.created_at > p_now - interval '7 days' AND n.created_at <= p_now
     ORDER BY n.tenant_id, n.user_id, n.created_at
     LIMIT p_limit
$$;
REVOKE ALL ON FUNCTION notices_digest_pending(timestamptz, integer) FROM PUBLIC;

-- A member hears when someone else gives them a task or invites them to a meeting.
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check
    CHECK (kind IN ('SEND_FAILED', 'SENDER_PAUSED', 'REPLY', 'REVIEW_ASSIGNED', 'SLA_BREACH', 'JOB_FINISHED',
                    'WEBHOOK_DISABLED', 'PAYMENT_FAILED', 'USAGE_WARNING',
                    'APPROVAL_REQUESTED', 'APPROVAL_DECIDED', 'TASK_DUE', 'MENTION', 'HOLD_EXPIRING',
                    'TASK_ASSIGNED', 'MEETING_INVITED'));
