-- Outreach (issue 4): senders (WhatsApp numbers, email domains and mailboxes), their
-- daily quotas, templates with versions and A/B weights, sequences, steps and
-- enrolments, each lead's journey, one messages table that is also the outbox,
-- suppressions, webhook receipts, daily stats and notifications.
--
-- The tenancy rules of 0001 hold: tenant_id first in every key and index, composite
-- foreign keys, RLS enabled and forced (loop at the end). Workers serve every tenant,
-- so they find due work through SECURITY DEFINER functions (like claim_job() in 0002)
-- and then do it in a transaction scoped to that work's tenant.

-- Meta's messaging tier: unique users a business may start conversations with in a
-- rolling 24 hours (tier 1 is 1,000).
ALTER TABLE tenant_policies ADD COLUMN wa_daily_unique_limit integer NOT NULL DEFAULT 1000
    CHECK (wa_daily_unique_limit BETWEEN 1 AND 10000000);

CREATE TABLE wa_phone_numbers (
    tenant_id         uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id                uuid NOT NULL,
    number            text NOT NULL CHECK (number ~ '^\+[1-9][0-9]{6,14}$'),
    label             text NOT NULL CHECK (length(label) BETWEEN 1 AND 60),
    -- The Cloud API's id of the number: the send URL and every webhook name it.
    provider_phone_id text NOT NULL CHECK (length(provider_phone_id) BETWEEN 1 AND 64),
    access_token      bytea NOT NULL,
    status            text NOT NULL DEFAULT 'ACTIVE'
                      CHECK (status IN ('ACTIVE', 'PAUSED', 'OFFLINE', 'BANNED', 'RECONNECTING')),
    status_reason     text,
    status_changed_at timestamptz NOT NULL DEFAULT now(),
    priority          integer NOT NULL DEFAULT 1 CHECK (priority BETWEEN 1 AND 100),
    daily_quota       integer NOT NULL DEFAULT 200 CHECK (daily_quota BETWEEN 1 AND 100000),
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, number),
    -- One Meta number belongs to one business: webhooks are routed by it.
    UNIQUE (provider_phone_id)
);

-- New contacts and follow-ups per number per day (the tenant's time zone).
CREATE TABLE wa_quota_usage (
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    phone_id     uuid NOT NULL,
    day          date NOT NULL,
    new_contacts integer NOT NULL DEFAULT 0 CHECK (new_contacts >= 0),
    followups    integer NOT NULL DEFAULT 0 CHECK (followups >= 0),
    PRIMARY KEY (tenant_id, phone_id, day),
    FOREIGN KEY (tenant_id, phone_id) REFERENCES wa_phone_numbers (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE email_domains (
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id              uuid NOT NULL,
    domain          citext NOT NULL CHECK (domain ~ '^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$'),
    dkim_selector   text NOT NULL DEFAULT 'leadline' CHECK (dkim_selector ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    -- PKCS#8 PEM, encrypted with the server's secret key.
    dkim_private    bytea NOT NULL,
    dkim_public     text NOT NULL,
    spf_ok          boolean NOT NULL DEFAULT false,
    dkim_ok         boolean NOT NULL DEFAULT false,
    dmarc_ok        boolean NOT NULL DEFAULT false,
    -- The last check, record by record: [{kind, name, expected, found, ok, problem}].
    checks          jsonb NOT NULL DEFAULT '[]',
    checked_at      timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, domain)
);

CREATE TABLE email_accounts (
    tenant_id         uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id                uuid NOT NULL,
    domain_id         uuid NOT NULL,
    from_address      citext NOT NULL CHECK (length(from_address) BETWEEN 3 AND 254),
    from_name         text NOT NULL CHECK (length(from_name) BETWEEN 1 AND 100),
    smtp_host         text NOT NULL CHECK (length(smtp_host) BETWEEN 1 AND 253),
    smtp_port         integer NOT NULL CHECK (smtp_port BETWEEN 1 AND 65535),
    smtp_security     text NOT NULL DEFAULT 'STARTTLS' CHECK (smtp_security IN ('NONE', 'STARTTLS', 'TLS')),
    smtp_username     text,
    smtp_password     bytea,
    daily_cap         integer NOT NULL DEFAULT 50 CHECK (daily_cap BETWEEN 1 AND 100000),
    -- Warm-up: warmup_start sends on the first day, warmup_step more each day after,
    -- never above daily_cap.
    warmup_start      integer NOT NULL DEFAULT 10 CHECK (warmup_start BETWEEN 1 AND 100000),
    warmup_step       integer NOT NULL DEFAULT 5 CHECK (warmup_step BETWEEN 0 AND 100000),
    warmup_started_on date NOT NULL DEFAULT current_date,
    min_gap_seconds   integer NOT NULL DEFAULT 60 CHECK (min_gap_seconds BETWEEN 0 AND 86400),
    -- The earliest moment the next message may leave this mailbox (min gap).
    next_slot_at      timestamptz NOT NULL DEFAULT now(),
    status            text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'PAUSED')),
    status_reason     text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, from_address),
    FOREIGN KEY (tenant_id, domain_id) REFERENCES email_domains (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE email_daily_usage (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    account_id uuid NOT NULL,
    day        date NOT NULL,
    sent       integer NOT NULL DEFAULT 0 CHECK (sent >= 0),
    PRIMARY KEY (tenant_id, account_id, day),
    FOREIGN KEY (tenant_id, account_id) REFERENCES email_accounts (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE templates (
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id              uuid NOT NULL,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    channel         text NOT NULL CHECK (channel IN ('WHATSAPP', 'EMAIL')),
    locale          text NOT NULL DEFAULT 'en' CHECK (locale ~ '^[a-z]{2}(-[A-Z]{2})?$'),
    folder          text CHECK (folder IS NULL OR length(folder) BETWEEN 1 AND 60),
    tags            text[] NOT NULL DEFAULT '{}',
    -- WhatsApp: the name of the template approved by Meta, which alone may open a
    -- conversation (free text is allowed only inside the 24-hour service window).
    wa_template_name text CHECK (wa_template_name IS NULL OR (wa_template_name ~ '^[a-z0-9_]+$' AND length(wa_template_name) <= 512)),
    approval_status text NOT NULL DEFAULT 'APPROVED'
                    CHECK (approval_status IN ('DRAFT', 'PENDING', 'APPROVED', 'REJECTED')),
    archived        boolean NOT NULL DEFAULT false,
    created_by      uuid REFERENCES users (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, channel, id),
    UNIQUE (tenant_id, name)
);
CREATE INDEX templates_folder ON templates (tenant_id, folder, name);

-- Versions of a template; the active ones are its A/B variants, picked by weight.
CREATE TABLE template_versions (
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          uuid NOT NULL,
    template_id uuid NOT NULL,
    version_no  integer NOT NULL CHECK (version_no >= 1),
    label       text NOT NULL CHECK (length(label) BETWEEN 1 AND 20),
    subject     text CHECK (subject IS NULL OR length(subject) <= 300),
    body        text NOT NULL CHECK (length(body) BETWEEN 1 AND 10000),
    weight      integer NOT NULL DEFAULT 100 CHECK (weight BETWEEN 0 AND 100),
    active      boolean NOT NULL DEFAULT true,
    created_by  uuid REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, template_id, version_no),
    FOREIGN KEY (tenant_id, template_id) REFERENCES templates (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE sequences (
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id               uuid NOT NULL,
    name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    status           text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'PAUSED')),
    -- NULL: the tenant's time zone.
    timezone         text,
    -- {"mon": [["09:00", "18:00"]], ...}; a weekday without windows sends nothing.
    business_hours   jsonb NOT NULL DEFAULT '{}',
    holidays         date[] NOT NULL DEFAULT '{}',
    exit_on_reply    boolean NOT NULL DEFAULT true,
    exit_on_bounce   boolean NOT NULL DEFAULT true,
    max_attempts     integer NOT NULL DEFAULT 3 CHECK (max_attempts BETWEEN 1 AND 10),
    created_by       uuid REFERENCES users (id),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, name)
);

CREATE TABLE sequence_steps (
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id              uuid NOT NULL,
    sequence_id     uuid NOT NULL,
    position        integer NOT NULL CHECK (position >= 1),
    delay_minutes   integer NOT NULL DEFAULT 0 CHECK (delay_minutes BETWEEN 0 AND 525600),
    channel         text NOT NULL CHECK (channel IN ('WHATSAPP', 'EMAIL')),
    template_id     uuid NOT NULL,
    -- Sent instead when the lead cannot be reached on the step's channel (no WhatsApp
    -- number, or suppressed there); its own channel.
    fallback_template_id uuid,
    skip_if_replied boolean NOT NULL DEFAULT true,
    skip_if_opened  boolean NOT NULL DEFAULT false,
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, sequence_id, position) DEFERRABLE INITIALLY DEFERRED,
    FOREIGN KEY (tenant_id, sequence_id) REFERENCES sequences (tenant_id, id) ON DELETE CASCADE,
    -- A step's channel is its template's.
    FOREIGN KEY (tenant_id, channel, template_id) REFERENCES templates (tenant_id, channel, id),
    FOREIGN KEY (tenant_id, fallback_template_id) REFERENCES templates (tenant_id, id)
);

-- A lead's outreach journey (seed 000's state machine; transitions in
-- app/src/outreach/journey.rs). The row appears with the lead's first outreach.
CREATE TABLE lead_journeys (
    tenant_id         uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    lead_id           uuid NOT NULL,
    state             text NOT NULL DEFAULT 'COLD'
                      CHECK (state IN ('COLD', 'CONTACTED_WA', 'CONTACTED_EMAIL', 'WARM_REPLY',
                                       'NEGOTIATION', 'CONVERTED', 'DEAD', 'PAUSED')),
    previous_state    text,
    state_reason      text,
    state_changed_at  timestamptz NOT NULL DEFAULT now(),
    -- Sticky: the number that first wrote to the lead keeps writing to it.
    assigned_phone_id uuid,
    assigned_at       timestamptz,
    -- A member took the conversation over: no automatic sends.
    human_takeover    boolean NOT NULL DEFAULT false,
    first_wa_at       timestamptz,
    first_email_at    timestamptz,
    last_outbound_at  timestamptz,
    last_inbound_at   timestamptz,
    PRIMARY KEY (tenant_id, lead_id),
    FOREIGN KEY (tenant_id, lead_id) REFERENCES leads (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, assigned_phone_id) REFERENCES wa_phone_numbers (tenant_id, id) ON DELETE SET NULL (assigned_phone_id)
);
CREATE INDEX lead_journeys_state ON lead_journeys (tenant_id, state);
CREATE INDEX lead_journeys_phone ON lead_journeys (tenant_id, assigned_phone_id) WHERE assigned_phone_id IS NOT NULL;

CREATE TABLE enrollments (
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          uuid NOT NULL,
    sequence_id uuid NOT NULL,
    lead_id     uuid NOT NULL,
    status      text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'PAUSED', 'COMPLETED', 'STOPPED')),
    -- The position of the step to run next.
    next_step   integer NOT NULL DEFAULT 1,
    next_run_at timestamptz NOT NULL DEFAULT now(),
    -- Messages this enrolment sent (max_attempts ends it).
    sent        integer NOT NULL DEFAULT 0,
    stop_reason text,
    enrolled_by uuid REFERENCES users (id),
    locked_at   timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, sequence_id) REFERENCES sequences (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, lead_id) REFERENCES leads (tenant_id, id) ON DELETE CASCADE
);
-- A lead is in at most one running sequence.
CREATE UNIQUE INDEX enrollments_one_open ON enrollments (tenant_id, lead_id) WHERE status IN ('ACTIVE', 'PAUSED');
CREATE INDEX enrollments_sequence ON enrollments (tenant_id, sequence_id, created_at DESC);
CREATE INDEX enrollments_due ON enrollments (next_run_at) WHERE status = 'ACTIVE';

-- Every message, both directions, every channel. Outbound rows are the outbox: a row
-- is written in the same transaction as whatever caused it and is sent by a
-- dispatcher later; the idempotency key travels to the provider so a resend after a
-- crash is recognised instead of delivered twice.
CREATE TABLE messages (
    tenant_id           uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id                  uuid NOT NULL,
    lead_id             uuid NOT NULL,
    channel             text NOT NULL CHECK (channel IN ('WHATSAPP', 'EMAIL')),
    direction           text NOT NULL CHECK (direction IN ('OUT', 'IN')),
    status              text NOT NULL CHECK (status IN ('QUEUED', 'SENDING', 'SENT', 'DELIVERED', 'READ',
                                                        'OPENED', 'CLICKED', 'REPLIED', 'BOUNCED', 'FAILED',
                                                        'RECEIVED')),
    phone_id            uuid,
    email_account_id    uuid,
    to_address          text NOT NULL,
    from_address        text,
    subject             text,
    body                text NOT NULL,
    -- WhatsApp: send as this approved template (opens a conversation).
    wa_template_name    text,
    -- Its body parameters, the template's variables in order of first use.
    wa_params           text[] NOT NULL DEFAULT '{}',
    template_version_id uuid,
    enrollment_id       uuid,
    step_id             uuid,
    -- 1 when this message is a number's first contact with the lead (the daily quota).
    quota_cost          integer NOT NULL DEFAULT 0 CHECK (quota_cost IN (0, 1)),
    idempotency_key     text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 200),
    provider_message_id text,
    -- Email threading: the Message-ID of what this answers.
    in_reply_to         text,
    attempts            integer NOT NULL DEFAULT 0,
    next_attempt_at     timestamptz NOT NULL DEFAULT now(),
    locked_at           timestamptz,
    last_error          text,
    created_by          uuid REFERENCES users (id),
    created_at          timestamptz NOT NULL DEFAULT now(),
    sent_at             timestamptz,
    delivered_at        timestamptz,
    read_at             timestamptz,
    opened_at           timestamptz,
    clicked_at          timestamptz,
    replied_at          timestamptz,
    bounced_at          timestamptz,
    failed_at           timestamptz,
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, idempotency_key),
    CHECK (channel <> 'WHATSAPP' OR direction = 'IN' OR phone_id IS NOT NULL),
    CHECK (channel <> 'EMAIL' OR direction = 'IN' OR email_account_id IS NOT NULL),
    FOREIGN KEY (tenant_id, lead_id) REFERENCES leads (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, phone_id) REFERENCES wa_phone_numbers (tenant_id, id),
    FOREIGN KEY (tenant_id, email_account_id) REFERENCES email_accounts (tenant_id, id),
    FOREIGN KEY (tenant_id, template_version_id) REFERENCES template_versions (tenant_id, id),
    FOREIGN KEY (tenant_id, enrollment_id) REFERENCES enrollments (tenant_id, id) ON DELETE SET NULL (enrollment_id),
    FOREIGN KEY (tenant_id, step_id) REFERENCES sequence_steps (tenant_id, id) ON DELETE SET NULL (step_id)
);
CREATE UNIQUE INDEX messages_provider ON messages (tenant_id, channel, provider_message_id) WHERE provider_message_id IS NOT NULL;
CREATE INDEX messages_outbox ON messages (next_attempt_at) WHERE status = 'QUEUED';
CREATE INDEX messages_stale ON messages (locked_at) WHERE status = 'SENDING';
CREATE INDEX messages_lead ON messages (tenant_id, lead_id, created_at DESC, id DESC);
CREATE INDEX messages_version ON messages (tenant_id, template_version_id) WHERE template_version_id IS NOT NULL;
CREATE INDEX messages_step ON messages (tenant_id, step_id) WHERE step_id IS NOT NULL;
CREATE INDEX messages_enrollment ON messages (tenant_id, enrollment_id) WHERE enrollment_id IS NOT NULL;
-- The tenant-wide 24-hour guard counts first contacts.
CREATE INDEX messages_first_contacts ON messages (tenant_id, created_at) WHERE quota_cost = 1;

-- Addresses nobody may message again: opt-out words, unsubscribe links, hard bounces,
-- complaints, or a member's decision. Checked before every send.
CREATE TABLE suppressions (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id         uuid NOT NULL,
    channel    text NOT NULL CHECK (channel IN ('WHATSAPP', 'EMAIL')),
    -- E.164 for WhatsApp, lower-case email for email.
    address    text NOT NULL,
    reason     text NOT NULL CHECK (reason IN ('OPT_OUT', 'UNSUBSCRIBE', 'BOUNCE', 'COMPLAINT', 'MANUAL')),
    message_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, channel, address)
);

-- Provider events already applied, so a replayed webhook changes nothing.
CREATE TABLE webhook_receipts (
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    source      text NOT NULL CHECK (source IN ('WHATSAPP', 'EMAIL')),
    event_id    text NOT NULL CHECK (length(event_id) BETWEEN 1 AND 200),
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, source, event_id)
);

-- Seed 000's outreach_daily_stats, kept current as events arrive.
CREATE TABLE outreach_daily_stats (
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    day             date NOT NULL,
    wa_new_contacts integer NOT NULL DEFAULT 0,
    wa_followups    integer NOT NULL DEFAULT 0,
    wa_delivered    integer NOT NULL DEFAULT 0,
    wa_replies      integer NOT NULL DEFAULT 0,
    email_sent      integer NOT NULL DEFAULT 0,
    email_opens     integer NOT NULL DEFAULT 0,
    email_clicks    integer NOT NULL DEFAULT 0,
    email_replies   integer NOT NULL DEFAULT 0,
    email_bounces   integer NOT NULL DEFAULT 0,
    failed          integer NOT NULL DEFAULT 0,
    opt_outs        integer NOT NULL DEFAULT 0,
    leads_contacted integer NOT NULL DEFAULT 0,
    leads_replied   integer NOT NULL DEFAULT 0,
    leads_converted integer NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, day)
);

-- What a member should know about: a message that could not be sent, a sender that
-- paused itself.
CREATE TABLE notifications (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id         uuid NOT NULL,
    user_id    uuid NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('SEND_FAILED', 'SENDER_PAUSED')),
    body       text NOT NULL,
    link       text,
    created_at timestamptz NOT NULL DEFAULT now(),
    read_at    timestamptz,
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES memberships (tenant_id, user_id) ON DELETE CASCADE
);
CREATE INDEX notifications_user ON notifications (tenant_id, user_id, created_at DESC);

-- Journey moves land on the lead's timeline too.
ALTER TABLE activities DROP CONSTRAINT activities_kind_check;
ALTER TABLE activities ADD CONSTRAINT activities_kind_check
    CHECK (kind IN ('NOTE', 'CALL', 'EMAIL', 'WHATSAPP', 'MEETING', 'TASK', 'STAGE_CHANGE',
                    'STATUS_CHANGE', 'ASSIGNMENT', 'CREATED', 'LIST_ADD', 'LIST_REMOVE', 'IMPORTED',
                    'JOURNEY', 'ENROLLED'));
CREATE INDEX activities_message ON activities (tenant_id, ((data ->> 'message_id')))
    WHERE kind IN ('WHATSAPP', 'EMAIL');

DO $$
DECLARE t text;
BEGIN
    FOR t IN SELECT unnest(ARRAY['wa_phone_numbers', 'wa_quota_usage', 'email_domains', 'email_accounts',
                                 'email_daily_usage', 'templates', 'template_versions', 'sequences',
                                 'sequence_steps', 'lead_journeys', 'enrollments', 'messages',
                                 'suppressions', 'webhook_receipts', 'outreach_daily_stats',
                                 'notifications'])
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = (SELECT app_tenant())) '
                       'WITH CHECK (tenant_id = (SELECT app_tenant()))', t);
    END LOOP;
END $$;

-- The worker functions below are owned by the migrating role; these policies let them
-- read across tenants (never the runtime role, which the policies do not name).
CREATE POLICY definer_outreach ON enrollments TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY definer_outreach ON messages TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY definer_outreach ON sequences FOR SELECT TO CURRENT_USER USING (true);
CREATE POLICY definer_outreach ON wa_phone_numbers FOR SELECT TO CURRENT_USER USING (true);

-- Due enrolments of running sequences, locked for the caller for two minutes (a
-- scheduler that dies lets them go again); grouped so each tenant's are together.
CREATE FUNCTION claim_due_enrollments(p_limit integer) RETURNS TABLE (tenant_id uuid, id uuid)
LANGUAGE sql SECURITY DEFINER SET search_path = public AS $$
    WITH due AS (
        SELECT e.id FROM enrollments e
         WHERE e.status = 'ACTIVE' AND e.next_run_at <= now()
           AND (e.locked_at IS NULL OR e.locked_at < now() - interval '2 minutes')
           AND EXISTS (SELECT 1 FROM sequences s WHERE s.tenant_id = e.tenant_id AND s.id = e.sequence_id AND s.status = 'ACTIVE')
         ORDER BY e.next_run_at
         FOR UPDATE OF e SKIP LOCKED
         LIMIT least(greatest(p_limit, 1), 5000))
    UPDATE enrollments e SET locked_at = now() FROM due WHERE e.id = due.id
    RETURNING e.tenant_id, e.id
$$;
REVOKE ALL ON FUNCTION claim_due_enrollments(integer) FROM PUBLIC;

-- Queued messages that are due, and messages left SENDING by a dispatcher that died
-- (their idempotency key makes the resend safe), marked SENDING for the caller.
CREATE FUNCTION claim_messages(p_limit integer) RETURNS TABLE (tenant_id uuid, id uuid)
LANGUAGE sql SECURITY DEFINER SET search_path = public AS $$
    WITH queued AS (
        SELECT m.id FROM messages m
         WHERE m.status = 'QUEUED' AND m.next_attempt_at <= now()
         ORDER BY m.next_attempt_at
         FOR UPDATE SKIP LOCKED
         LIMIT least(greatest(p_limit, 1), 5000)),
    stale AS (
        SELECT m.id FROM messages m
         WHERE m.status = 'SENDING' AND m.locked_at < now() - interval '2 minutes'
         FOR UPDATE SKIP LOCKED
         LIMIT least(greatest(p_limit, 1), 5000)),
    due AS (SELECT id FROM queued UNION ALL SELECT id FROM stale)
    UPDATE messages m SET status = 'SENDING', locked_at = now(), attempts = m.attempts + 1
      FROM due WHERE m.id = due.id
    RETURNING m.tenant_id, m.id
$$;
REVOKE ALL ON FUNCTION claim_messages(integer) FROM PUBLIC;

-- Webhooks arrive before any tenant is known: Meta names the receiving number, our own
-- events name the message. These return the tenant (and row) and nothing else.
CREATE FUNCTION wa_phone_route(p_provider_phone_id text) RETURNS TABLE (tenant_id uuid, id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
    SELECT p.tenant_id, p.id FROM wa_phone_numbers p WHERE p.provider_phone_id = p_provider_phone_id
$$;
REVOKE ALL ON FUNCTION wa_phone_route(text) FROM PUBLIC;

CREATE FUNCTION message_route(p_id uuid) RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
    SELECT m.tenant_id FROM messages m WHERE m.id = p_id
$$;
REVOKE ALL ON FUNCTION message_route(uuid) FROM PUBLIC;

-- The first moment at or after p_from inside a business-hours window, in time zone p_tz
-- (PostgreSQL's tz database, so DST changes are handled by the conversion back).
-- p_hours: {"mon": [["09:00", "17:30"]], ...}; '{}' means any time; a weekday missing
-- from a non-empty object is closed. Holidays are local dates. NULL if nothing opens
-- within 366 days.
CREATE FUNCTION next_business_moment(p_from timestamptz, p_tz text, p_hours jsonb, p_holidays date[])
RETURNS timestamptz LANGUAGE plpgsql STABLE AS $$
DECLARE
    local_now timestamp := p_from AT TIME ZONE p_tz;
    day date;
    win jsonb;
    opens timestamp;
    closes timestamp;
BEGIN
    IF p_hours IS NULL OR p_hours = '{}'::jsonb THEN
        IF NOT (local_now::date = ANY (p_holidays)) THEN
            RETURN p_from;
        END IF;
    END IF;
    FOR i IN 0..366 LOOP
        day := local_now::date + i;
        CONTINUE WHEN day = ANY (p_holidays);
        IF p_hours IS NULL OR p_hours = '{}'::jsonb THEN
            RETURN greatest(p_from, day::timestamp AT TIME ZONE p_tz);
        END IF;
        FOR win IN SELECT w FROM jsonb_array_elements(
                coalesce(p_hours -> lower(to_char(day, 'Dy')), '[]'::jsonb)) AS w
                ORDER BY w ->> 0 LOOP
            opens := day + (win ->> 0)::time;
            closes := day + (win ->> 1)::time;
            IF local_now < closes THEN
                IF local_now >= opens THEN
                    RETURN p_from;
                END IF;
                RETURN opens AT TIME ZONE p_tz;
            END IF;
        END LOOP;
    END LOOP;
    RETURN NULL;
END $$;

-- How far a message has come; a late or repeated provider event never moves it back
-- (a "delivered" after "read" changes nothing). FAILED and BOUNCED end it.
CREATE FUNCTION message_status_rank(text) RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT CASE $1 WHEN 'QUEUED' THEN 0 WHEN 'SENDING' THEN 1 WHEN 'SENT' THEN 2 WHEN 'DELIVERED' THEN 3
                  WHEN 'READ' THEN 4 WHEN 'OPENED' THEN 4 WHEN 'CLICKED' THEN 5 WHEN 'REPLIED' THEN 6
                  WHEN 'BOUNCED' THEN 7 WHEN 'FAILED' THEN 7 ELSE 0 END $$;
