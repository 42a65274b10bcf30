-- Issue 13: a workspace whose dunning ran out (subscription UNPAID) is read-only for
-- people, and now for the workers too: no enrolment takes its next step and no queued
-- message is sent. Nothing is dropped: enrolments stay ACTIVE and messages stay QUEUED
-- in the outbox, and both go on by themselves once the invoice is paid.
CREATE OR REPLACE FUNCTION claim_outbox(p_limit integer) RETURNS TABLE (tenant_id uuid, message_id uuid, attempts integer)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH RECURSIVE tenants AS (
        (SELECT o.tenant_id FROM outbox o ORDER BY o.tenant_id LIMIT 1)
        UNION ALL
        SELECT (SELECT o.tenant_id FROM outbox o WHERE o.tenant_id > t.tenant_id
                 ORDER BY o.tenant_id LIMIT 1)
          FROM tenants t
         WHERE t.tenant_id IS NOT NULL
    ),
    waiting AS (
        SELECT t.tenant_id,
               EXISTS (SELECT 1 FROM wa_phone_numbers p
                        WHERE p.tenant_id = t.tenant_id AND p.status = 'MIGRATING') AS migrating
          FROM tenants t
         WHERE t.tenant_id IS NOT NULL
           -- An unpaid workspace's messages wait in the outbox, visibly queued.
           AND NOT EXISTS (SELECT 1 FROM subscriptions b
                            WHERE b.tenant_id = t.tenant_id AND b.status = 'UNPAID')
           AND EXISTS (SELECT 1 FROM outbox x
                        WHERE x.tenant_id = t.tenant_id AND x.due_at <= now()
                          AND (x.leased_until IS NULL OR x.leased_until < now()))
    ),
    share AS (
        SELECT ceil(least(greatest(p_limit, 1), 5000)::numeric
                    / greatest(count(*), 1))::integer AS rows_each
          FROM waiting
    ),
    due AS (
        SELECT d.message_id
          FROM waiting w
         CROSS JOIN share s
         CROSS JOIN LATERAL (
               SELECT x.message_id FROM outbox x
                WHERE x.tenant_id = w.tenant_id AND x.due_at <= now()
                  AND (x.leased_until IS NULL OR x.leased_until < now())
                  AND (NOT w.migrating OR NOT EXISTS (
                        SELECT 1 FROM messages m JOIN wa_phone_numbers p ON p.id = m.phone_id
                         WHERE m.id = x.message_id AND p.status = 'MIGRATING'))
                ORDER BY x.due_at
                LIMIT s.rows_each
                FOR UPDATE SKIP LOCKED) d
    )
    UPDATE outbox o SET leased_until = now() + interval '2 minutes', attempts = o.attempts + 1
      FROM due
     WHERE o.message_id = due.message_id
    RETURNING o.tenant_id, o.message_id, o.attempts
$$;
REVOKE ALL ON FUNCTION claim_outbox(integer) FROM PUBLIC;

CREATE OR REPLACE FUNCTION claim_due_enrollments(p_limit integer) RETURNS TABLE (tenant_id uuid, id uuid)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH due AS (
        SELECT e.id FROM enrollments e
         WHERE e.status = 'ACTIVE' AND e.next_run_at <= now()
           AND (e.locked_at IS NULL OR e.locked_at < now() - interval '2 minutes')
           AND EXISTS (SELECT 1 FROM sequences s WHERE s.tenant_id = e.tenant_id AND s.id = e.sequence_id AND s.status = 'ACTIVE')
           AND NOT EXISTS (SELECT 1 FROM subscriptions b WHERE b.tenant_id = e.tenant_id AND b.status = 'UNPAID')
         ORDER BY e.next_run_at
         FOR UPDATE OF e SKIP LOCKED
         LIMIT least(greatest(p_limit, 1), 5000))
    UPDATE enrollments e SET locked_at = now() FROM due WHERE e.id = due.id
    RETURNING e.tenant_id, e.id
$$;
REVOKE ALL ON FUNCTION claim_due_enrollments(integer) FROM PUBLIC;
