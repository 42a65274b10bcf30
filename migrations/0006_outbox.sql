-- The outbox proper: one narrow row per outbound message still to be sent. Dispatchers
-- claim (SKIP LOCKED) and lease these rows and delete them once the provider has
-- answered, so the wide and much-indexed `messages` row is written once per send (its
-- outcome) instead of twice (SENDING, then SENT). Measured with `cargo xtask bench
-- outreach`; the numbers are in the README.
CREATE TABLE outbox (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    message_id uuid NOT NULL,
    -- When it may next be tried (now, or after a retry's backoff).
    due_at       timestamptz NOT NULL DEFAULT now(),
    -- Claimed by a dispatcher until then; a message whose dispatcher died is tried
    -- again after it, with the same idempotency key. Not indexed, so a claim is a HOT
    -- update: the claimed rows stay at the head of outbox_due, skipped by this filter.
    leased_until timestamptz,
    -- Tries so far, the one in flight included.
    attempts   integer NOT NULL DEFAULT 0,
    PRIMARY KEY (message_id),
    FOREIGN KEY (tenant_id, message_id) REFERENCES messages (tenant_id, id) ON DELETE CASCADE
) WITH (fillfactor = 50); -- room on each page for the claim's new row version (HOT)
-- Without deduplication: a batch queues many rows with the same due_at, and in a
-- deduplicated posting list a sent (deleted) row's entry cannot be marked dead until all
-- of the list's rows are, so every claim walked the heap of every row sent before it.
CREATE INDEX outbox_due ON outbox (due_at) WITH (deduplicate_items = off);

ALTER TABLE outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE outbox FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON outbox USING (tenant_id = (SELECT app_tenant()))
    WITH CHECK (tenant_id = (SELECT app_tenant()));
-- For claim_outbox() below, owned by the migrating role (as in 0005).
CREATE POLICY definer_outreach ON outbox TO CURRENT_USER USING (true) WITH CHECK (true);

-- What was waiting or in flight moves over; SENDING was the lease on the wide row.
INSERT INTO outbox (tenant_id, message_id, due_at, leased_until, attempts)
SELECT tenant_id, id, next_attempt_at,
       CASE WHEN status = 'SENDING' THEN coalesce(locked_at, now()) + interval '2 minutes' END,
       attempts
  FROM messages
 WHERE direction = 'OUT' AND status IN ('QUEUED', 'SENDING');
UPDATE messages SET status = 'QUEUED' WHERE status = 'SENDING';

DROP FUNCTION claim_messages(integer);
DROP INDEX messages_outbox;
DROP INDEX messages_stale;
ALTER TABLE messages DROP COLUMN next_attempt_at, DROP COLUMN locked_at;
ALTER TABLE messages DROP CONSTRAINT messages_status_check;
ALTER TABLE messages ADD CONSTRAINT messages_status_check
    CHECK (status IN ('QUEUED', 'SENT', 'DELIVERED', 'READ', 'OPENED', 'CLICKED', 'REPLIED',
                      'BOUNCED', 'FAILED', 'RECEIVED'));

-- Due outbox rows across tenants, leased to the caller; the caller sends them and, in
-- a transaction of each row's tenant, records the outcome and deletes the row.
CREATE FUNCTION claim_outbox(p_limit integer) RETURNS TABLE (tenant_id uuid, message_id uuid, attempts integer)
LANGUAGE sql SECURITY DEFINER SET search_path = public AS $$
    UPDATE outbox o SET leased_until = now() + interval '2 minutes', attempts = o.attempts + 1
      FROM (SELECT x.message_id FROM outbox x
             WHERE x.due_at <= now() AND (x.leased_until IS NULL OR x.leased_until < now())
             ORDER BY x.due_at
             FOR UPDATE SKIP LOCKED
             LIMIT least(greatest(p_limit, 1), 5000)) due
     WHERE o.message_id = due.message_id
    RETURNING o.tenant_id, o.message_id, o.attempts
$$;
REVOKE ALL ON FUNCTION claim_outbox(integer) FROM PUBLIC;

-- A journey row is updated at every send and reply. With room on its page and no index
-- on `state` (the per-tenant counts read the primary key's range anyway), those updates
-- are HOT: no index entries to add.
DROP INDEX lead_journeys_state;
ALTER TABLE lead_journeys SET (fillfactor = 70);

-- The same for due enrolments, which an enrolment makes due at one moment by the
-- thousand.
ALTER INDEX enrollments_due SET (deduplicate_items = off);
REINDEX INDEX enrollments_due;
