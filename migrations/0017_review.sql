-- Review: every inbound message is classified on arrival (seed 002), and what a
-- machine should not answer alone goes to a queue managers work (seed 000
-- human_review_queue).

ALTER TABLE messages
    ADD COLUMN intent     text CHECK (intent IN ('INTERESTED', 'QUESTION', 'NOT_NOW', 'NOT_INTERESTED',
                                                 'WRONG_PERSON', 'OUT_OF_OFFICE', 'AUTO_REPLY',
                                                 'UNSUBSCRIBE', 'COMPLAINT', 'BOUNCE', 'OTHER')),
    ADD COLUMN sentiment  smallint CHECK (sentiment BETWEEN -100 AND 100),
    ADD COLUMN urgency    text CHECK (urgency IN ('LOW', 'MEDIUM', 'HIGH', 'URGENT')),
    ADD COLUMN confidence real CHECK (confidence BETWEEN 0 AND 1),
    -- Which headers, phrases and emoji decided it, shown to the reviewer.
    ADD COLUMN reasons    jsonb NOT NULL DEFAULT '[]';

-- The rules a manager sets for what goes to the queue, and the SLA per priority.
CREATE TABLE review_settings (
    tenant_id        uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    -- A reply with sentiment below this goes to the queue.
    negative_below   smallint NOT NULL DEFAULT -30 CHECK (negative_below BETWEEN -100 AND 100),
    -- So does one the classifier is less sure of than this (AI_UNCERTAIN).
    uncertain_below  real NOT NULL DEFAULT 0.5 CHECK (uncertain_below BETWEEN 0 AND 1),
    -- The tenant's own trigger phrases: a reply containing one goes to the queue.
    keywords         text[] NOT NULL DEFAULT '{}' CHECK (cardinality(keywords) <= 200),
    -- A reply from a lead with an open deal worth at least this much (minor units).
    high_value_minor bigint CHECK (high_value_minor > 0),
    sla_urgent_min   integer NOT NULL DEFAULT 30 CHECK (sla_urgent_min BETWEEN 5 AND 10080),
    sla_high_min     integer NOT NULL DEFAULT 120 CHECK (sla_high_min BETWEEN 5 AND 10080),
    sla_medium_min   integer NOT NULL DEFAULT 480 CHECK (sla_medium_min BETWEEN 5 AND 10080),
    sla_low_min      integer NOT NULL DEFAULT 1440 CHECK (sla_low_min BETWEEN 5 AND 10080),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE review_items (
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id               uuid NOT NULL,
    lead_id          uuid NOT NULL,
    message_id       uuid,
    reason           text NOT NULL CHECK (reason IN ('NEGATIVE_SENTIMENT', 'KEYWORD', 'BOUNCE', 'COMPLAINT',
                                                     'AI_UNCERTAIN', 'CONFIRM_INTENT', 'HIGH_VALUE', 'MANUAL')),
    priority         text NOT NULL CHECK (priority IN ('LOW', 'MEDIUM', 'HIGH', 'URGENT')),
    status           text NOT NULL DEFAULT 'PENDING'
                     CHECK (status IN ('PENDING', 'ASSIGNED', 'ESCALATED', 'RESOLVED')),
    assignee_id      uuid,
    -- 0 for the first line; each escalation (by hand or by a breached SLA) adds one.
    level            smallint NOT NULL DEFAULT 0 CHECK (level BETWEEN 0 AND 10),
    sla_due_at       timestamptz NOT NULL,
    breached         boolean NOT NULL DEFAULT false,
    corrected_intent text CHECK (corrected_intent IN ('INTERESTED', 'QUESTION', 'NOT_NOW', 'NOT_INTERESTED',
                                                      'WRONG_PERSON', 'OUT_OF_OFFICE', 'AUTO_REPLY',
                                                      'UNSUBSCRIBE', 'COMPLAINT', 'BOUNCE', 'OTHER')),
    resolution       text CHECK (resolution IN ('CONFIRMED', 'CORRECTED', 'REPLIED', 'IGNORED', 'TAKEN_OVER')),
    note             text CHECK (length(note) <= 2000),
    created_by       uuid,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    resolved_at      timestamptz,
    resolved_by      uuid,
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    CHECK ((status = 'RESOLVED') = (resolution IS NOT NULL)),
    CHECK (status <> 'ASSIGNED' OR assignee_id IS NOT NULL),
    FOREIGN KEY (tenant_id, lead_id) REFERENCES leads (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, message_id) REFERENCES messages (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, assignee_id) REFERENCES memberships (tenant_id, user_id),
    FOREIGN KEY (tenant_id, created_by) REFERENCES memberships (tenant_id, user_id),
    FOREIGN KEY (tenant_id, resolved_by) REFERENCES memberships (tenant_id, user_id)
);
-- One open item per message: a reply that trips two rules is one decision.
CREATE UNIQUE INDEX review_items_message ON review_items (tenant_id, message_id)
    WHERE message_id IS NOT NULL;
CREATE INDEX review_items_queue ON review_items (tenant_id, status, sla_due_at, id);
CREATE INDEX review_items_due ON review_items (sla_due_at) WHERE status IN ('PENDING', 'ASSIGNED') AND NOT breached;
CREATE INDEX review_items_lead ON review_items (tenant_id, lead_id);

DO $$
DECLARE t text;
BEGIN
    FOR t IN SELECT unnest(ARRAY['review_settings', 'review_items'])
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = (SELECT app_tenant())) '
                       'WITH CHECK (tenant_id = (SELECT app_tenant()))', t);
    END LOOP;
END $$;
CREATE POLICY definer_sla ON review_items TO CURRENT_USER USING (true) WITH CHECK (true);

ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check
    CHECK (kind IN ('SEND_FAILED', 'SENDER_PAUSED', 'REPLY', 'REVIEW_ASSIGNED', 'SLA_BREACH'));

-- The SLA sweep, across tenants (the worker has none): an open item past its due
-- time is marked breached and escalated one level, with its priority raised, and the
-- tenant's managers are told. `p_now` lets tests move the clock.
CREATE FUNCTION review_sla_sweep(p_now timestamptz) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    swept bigint;
BEGIN
    WITH breached AS (
        UPDATE review_items
           SET breached = true, status = 'ESCALATED', level = least(level + 1, 10), updated_at = p_now,
               priority = CASE priority WHEN 'LOW' THEN 'MEDIUM' WHEN 'MEDIUM' THEN 'HIGH' ELSE 'URGENT' END
         WHERE status IN ('PENDING', 'ASSIGNED') AND NOT breached AND sla_due_at < p_now
        RETURNING tenant_id, id
    ), told AS (
        INSERT INTO notifications (tenant_id, id, user_id, kind, body, link)
        SELECT b.tenant_id, gen_random_uuid(), m.user_id, 'SLA_BREACH',
               'A review item passed its SLA and was escalated.', '/review?item=' || b.id
          FROM breached b JOIN memberships m ON m.tenant_id = b.tenant_id
         WHERE m.status = 'ACTIVE' AND m.role IN ('MANAGER', 'ADMIN', 'OWNER')
        RETURNING 1
    )
    SELECT count(*) INTO swept FROM breached;
    RETURN swept;
END $$;
REVOKE ALL ON FUNCTION review_sla_sweep(timestamptz) FROM PUBLIC;

INSERT INTO schedules (name, cron) VALUES ('review.sla', '0 * * * * *');
