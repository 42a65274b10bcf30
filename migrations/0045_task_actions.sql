-- Issue 15: tasks are reassigned, rescheduled, cancelled and reopened, and their
-- assignee is reminded shortly before they are due.
--
-- `done_at` is when a task was closed, done or cancelled, so everything that lists
-- open tasks (My tasks, a card's next task, the reminder sweep) keeps its one
-- predicate and index; `cancelled_at` says it was cancelled rather than done.
ALTER TABLE activities ADD COLUMN cancelled_at timestamptz
    CHECK (cancelled_at IS NULL OR done_at IS NOT NULL);

-- The assignee hears of a task 15 minutes before it is due (it was at the due time),
-- once per due time: rescheduling clears `reminded_at`.
CREATE OR REPLACE FUNCTION task_due_sweep(p_now timestamptz) RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH due AS (
        UPDATE activities a SET reminded_at = p_now
         WHERE a.kind = 'TASK' AND a.done_at IS NULL AND a.reminded_at IS NULL
           AND a.due_at <= p_now + interval '15 minutes' AND a.assignee_id IS NOT NULL
        RETURNING a.tenant_id, a.assignee_id, a.subject, a.due_at,
                  CASE WHEN a.lead_id IS NOT NULL THEN '/leads/' || a.lead_id
                       WHEN a.deal_id IS NOT NULL THEN '/deals/' || a.deal_id
                       WHEN a.contact_id IS NOT NULL THEN '/contacts/' || a.contact_id
                       WHEN a.company_id IS NOT NULL THEN '/companies/' || a.company_id
                       ELSE '/tasks' END AS link
    ), told AS (
        INSERT INTO notifications (tenant_id, id, user_id, kind, body, link)
        SELECT d.tenant_id, gen_random_uuid(), d.assignee_id, 'TASK_DUE',
               'Task due: ' || left(coalesce(d.subject, ''), 200), d.link
          FROM due d
          JOIN memberships m ON m.tenant_id = d.tenant_id AND m.user_id = d.assignee_id AND m.status = 'ACTIVE'
         WHERE d.due_at > p_now - interval '1 day'
        RETURNING 1
    )
    SELECT count(*) FROM told
$$;
