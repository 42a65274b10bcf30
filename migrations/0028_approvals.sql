-- Approvals (seed 004 `approvals` and `approval_history`): a tenant's rules say which
-- deal stage moves need a yes first; a guarded move becomes a request that ordered
-- levels decide, and only the last level's yes applies it.

CREATE TABLE approval_rules (
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id           uuid NOT NULL,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    -- STAGE_ENTERED: a deal moved into `stage_id`. AMOUNT_ABOVE: a deal worth more
    -- than `amount_minor` of `currency` moved into a won stage.
    trigger      text NOT NULL CHECK (trigger IN ('STAGE_ENTERED', 'AMOUNT_ABOVE')),
    stage_id     uuid,
    amount_minor bigint CHECK (amount_minor >= 0),
    currency     char(3) CHECK (currency ~ '^[A-Z]{3}$'),
    created_by   uuid,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    CHECK ((trigger = 'STAGE_ENTERED') = (stage_id IS NOT NULL)),
    CHECK ((trigger = 'AMOUNT_ABOVE') = (amount_minor IS NOT NULL AND currency IS NOT NULL)),
    FOREIGN KEY (tenant_id, stage_id) REFERENCES stages (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, created_by) REFERENCES memberships (tenant_id, user_id)
);
CREATE INDEX approval_rules_stage ON approval_rules (tenant_id, stage_id);

-- A rule's levels in order; each is decided by a role (that role or a higher one) or
-- by one named member.
CREATE TABLE approval_rule_levels (
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    rule_id   uuid NOT NULL,
    position  smallint NOT NULL CHECK (position BETWEEN 1 AND 3),
    role      text CHECK (role IN ('MANAGER', 'ADMIN', 'OWNER')),
    member_id uuid,
    PRIMARY KEY (tenant_id, rule_id, position),
    CHECK ((role IS NULL) <> (member_id IS NULL)),
    FOREIGN KEY (tenant_id, rule_id) REFERENCES approval_rules (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, member_id) REFERENCES memberships (tenant_id, user_id)
);

CREATE TABLE approval_requests (
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id               uuid NOT NULL,
    -- The rule that held the move; its levels are copied into `levels`, so editing or
    -- deleting the rule later does not change a request already under way.
    rule_id          uuid,
    rule_name        text NOT NULL,
    deal_id          uuid NOT NULL,
    from_stage_id    uuid NOT NULL,
    to_stage_id      uuid NOT NULL,
    lost_reason      text CHECK (length(lost_reason) <= 500),
    -- The deal's version when the move was asked for: if the deal changes meanwhile,
    -- the last approval does not apply a move decided on stale facts.
    deal_version     integer NOT NULL,
    levels           jsonb NOT NULL CHECK (jsonb_typeof(levels) = 'array' AND jsonb_array_length(levels) BETWEEN 1 AND 3),
    level            smallint NOT NULL DEFAULT 1 CHECK (level BETWEEN 1 AND 3),
    status           text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'APPROVED', 'REJECTED', 'FAILED')),
    -- A member asked, or an API key did (then nobody is the requester to notify).
    requested_by     uuid,
    requested_by_key uuid,
    -- Why it was rejected (the approver's comment) or why applying it failed.
    reason           text CHECK (length(reason) <= 1000),
    sla_due_at       timestamptz NOT NULL,
    breached         boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    decided_at       timestamptz,
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    CHECK (requested_by IS NOT NULL OR requested_by_key IS NOT NULL),
    CHECK ((status = 'PENDING') = (decided_at IS NULL)),
    FOREIGN KEY (tenant_id, rule_id) REFERENCES approval_rules (tenant_id, id) ON DELETE SET NULL (rule_id),
    FOREIGN KEY (tenant_id, deal_id) REFERENCES deals (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, from_stage_id) REFERENCES stages (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, to_stage_id) REFERENCES stages (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, requested_by) REFERENCES memberships (tenant_id, user_id)
);
-- One open request per deal and change: asking twice is refused, not queued twice.
CREATE UNIQUE INDEX approval_requests_open ON approval_requests (tenant_id, deal_id, to_stage_id)
    WHERE status = 'PENDING';
CREATE INDEX approval_requests_queue ON approval_requests (tenant_id, status, sla_due_at, id);
CREATE INDEX approval_requests_due ON approval_requests (sla_due_at) WHERE status = 'PENDING' AND NOT breached;

-- Each level's decision, with its comment (seed 004 `approval_history`). One per level:
-- the second wall behind the request's row lock when two approvers decide at once.
CREATE TABLE approval_decisions (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id         uuid NOT NULL,
    request_id uuid NOT NULL,
    level      smallint NOT NULL CHECK (level BETWEEN 1 AND 3),
    actor_id   uuid NOT NULL,
    decision   text NOT NULL CHECK (decision IN ('APPROVED', 'REJECTED')),
    comment    text CHECK (length(comment) <= 1000),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, request_id, level),
    FOREIGN KEY (tenant_id, request_id) REFERENCES approval_requests (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, actor_id) REFERENCES memberships (tenant_id, user_id)
);

DO $$
DECLARE t text;
BEGIN
    FOR t IN SELECT unnest(ARRAY['approval_rules', 'approval_rule_levels', 'approval_requests', 'approval_decisions'])
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = (SELECT app_tenant())) '
                       'WITH CHECK (tenant_id = (SELECT app_tenant()))', t);
    END LOOP;
END $$;
-- The SLA sweep (SECURITY DEFINER, across tenants) marks breached requests.
CREATE POLICY definer_sla ON approval_requests TO CURRENT_USER USING (true) WITH CHECK (true);

-- Requests and decisions land on the deal's timeline.
ALTER TABLE activities DROP CONSTRAINT activities_kind_check;
ALTER TABLE activities ADD CONSTRAINT activities_kind_check
    CHECK (kind IN ('NOTE', 'CALL', 'EMAIL', 'WHATSAPP', 'MEETING', 'TASK', 'STAGE_CHANGE',
                    'STATUS_CHANGE', 'ASSIGNMENT', 'CREATED', 'LIST_ADD', 'LIST_REMOVE', 'IMPORTED',
                    'JOURNEY', 'ENROLLED', 'APPROVAL'));

ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check
    CHECK (kind IN ('SEND_FAILED', 'SENDER_PAUSED', 'REPLY', 'REVIEW_ASSIGNED', 'SLA_BREACH', 'JOB_FINISHED',
                    'WEBHOOK_DISABLED', 'PAYMENT_FAILED', 'USAGE_WARNING',
                    'APPROVAL_REQUESTED', 'APPROVAL_DECIDED'));

-- The SLA sweep now covers approvals too. A request past its due time is marked
-- breached, which escalates it: from then on admins and owners may decide its level
-- as well (checked in the application), and they are told.
CREATE OR REPLACE FUNCTION review_sla_sweep(p_now timestamptz) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    swept bigint;
    late bigint;
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

    WITH breached AS (
        UPDATE approval_requests SET breached = true, updated_at = p_now
         WHERE status = 'PENDING' AND NOT breached AND sla_due_at < p_now
        RETURNING tenant_id, id, requested_by
    ), told AS (
        INSERT INTO notifications (tenant_id, id, user_id, kind, body, link)
        SELECT b.tenant_id, gen_random_uuid(), m.user_id, 'SLA_BREACH',
               'An approval request passed its SLA: admins and owners may now decide it.',
               '/review?tab=approvals&approval=' || b.id
          FROM breached b JOIN memberships m ON m.tenant_id = b.tenant_id
         WHERE m.status = 'ACTIVE' AND m.role IN ('ADMIN', 'OWNER')
           AND m.user_id IS DISTINCT FROM b.requested_by
        RETURNING 1
    )
    SELECT count(*) INTO late FROM breached;
    RETURN swept + late;
END $$;
REVOKE ALL ON FUNCTION review_sla_sweep(timestamptz) FROM PUBLIC;
