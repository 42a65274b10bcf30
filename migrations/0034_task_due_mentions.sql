-- Two notification kinds of the notification centre (issue 11): a task of mine came
-- due, and someone mentioned me (`@Name`) in a note.

ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check
    CHECK (kind IN ('SEND_FAILED', 'SENDER_PAUSED', 'REPLY', 'REVIEW_ASSIGNED', 'SLA_BREACH', 'JOB_FINISHED',
                    'WEBHOOK_DISABLED', 'PAYMENT_FAILED', 'USAGE_WARNING',
                    'APPROVAL_REQUESTED', 'APPROVAL_DECIDED', 'TASK_DUE', 'MENTION'));

-- A task is announced once, when it comes due.
ALTER TABLE activities ADD COLUMN reminded_at timestamptz;
CREATE INDEX activities_tasks_to_remind ON activities (due_at)
    WHERE kind = 'TASK' AND done_at IS NULL AND reminded_at IS NULL;
CREATE POLICY definer_task_due ON activities TO CURRENT_USER USING (true) WITH CHECK (true);

-- Across tenants (the worker has none): open tasks whose time has come tell their
-- assignee, once. A task that was already a day overdue when this first runs is not
-- announced: the member has seen it in My tasks. `p_now` lets tests move the clock.
CREATE FUNCTION task_due_sweep(p_now timestamptz) RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH due AS (
        UPDATE activities a SET reminded_at = p_now
         WHERE a.kind = 'TASK' AND a.done_at IS NULL AND a.reminded_at IS NULL
           AND a.due_at <= p_now AND a.assignee_id IS NOT NULL
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
REVOKE ALL ON FUNCTION task_due_sweep(timestamptz) FROM PUBLIC;

INSERT INTO schedules (name, cron) VALUES ('tasks.due', '0 * * * * *');
