-- The suppression list as a screen (issue 15): entries say who added them by hand or
-- by import, and a lifted entry leaves the list for a history table that keeps why it
-- was lifted (DECISIONS §47).

ALTER TABLE suppressions DROP CONSTRAINT suppressions_reason_check;
ALTER TABLE suppressions ADD CONSTRAINT suppressions_reason_check
    CHECK (reason IN ('OPT_OUT', 'UNSUBSCRIBE', 'BOUNCE', 'COMPLAINT', 'MANUAL', 'IMPORTED'));
ALTER TABLE suppressions
    -- The member who added it (MANUAL, IMPORTED); NULL for what the system added.
    ADD COLUMN created_by uuid REFERENCES users (id),
    ADD COLUMN note text CHECK (length(note) <= 500);
-- The screen pages newest first on (created_at, id).
CREATE INDEX suppressions_recent ON suppressions (tenant_id, created_at DESC, id DESC);

-- A lifted suppression: the entry as it was, and who lifted it and why. The entry
-- itself is deleted, so every send-time check (`EXISTS … suppressions`) stays as it is
-- and the address can be suppressed again later.
CREATE TABLE suppression_lifts (
    tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id             uuid NOT NULL,
    -- The id the entry had; no foreign key, the entry is gone.
    suppression_id uuid NOT NULL,
    channel        text NOT NULL CHECK (channel IN ('WHATSAPP', 'EMAIL')),
    address        text NOT NULL,
    reason         text NOT NULL,
    message_id     uuid,
    created_by     uuid REFERENCES users (id),
    note           text,
    suppressed_at  timestamptz NOT NULL,
    lift_reason    text NOT NULL CHECK (length(btrim(lift_reason)) BETWEEN 3 AND 500),
    lifted_by      uuid REFERENCES users (id),
    lifted_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id)
);
CREATE INDEX suppression_lifts_address ON suppression_lifts (tenant_id, address, lifted_at DESC);

ALTER TABLE suppression_lifts ENABLE ROW LEVEL SECURITY;
ALTER TABLE suppression_lifts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON suppression_lifts USING (tenant_id = (SELECT app_tenant()))
    WITH CHECK (tenant_id = (SELECT app_tenant()));
