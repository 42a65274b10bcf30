-- Issue 13: storage is a plan limit. What a workspace stores is the files it uploaded
-- (plan drawings, project covers, template files), counted from their rows, so the
-- figure is exact by construction; a cover's size is now kept with it. NULL is "no
-- limit"; the limit is in MiB, as the billing page shows it.
ALTER TABLE plans ADD COLUMN storage_limit_mb integer CHECK (storage_limit_mb > 0);
UPDATE plans SET storage_limit_mb = CASE id WHEN 'free' THEN 100 WHEN 'starter' THEN 2048
                                            WHEN 'pro' THEN 20480 END;

-- Sending domains are a plan limit too (seed 003's domain limit), counted like numbers
-- and mailboxes: archived ones take no place.
ALTER TABLE plans ADD COLUMN domains_limit integer CHECK (domains_limit >= 0);
UPDATE plans SET domains_limit = CASE id WHEN 'free' THEN 1 WHEN 'starter' THEN 3 WHEN 'pro' THEN 20 END;

-- Covers set before this migration count as nothing until they are replaced.
ALTER TABLE projects ADD COLUMN cover_bytes integer CHECK (cover_bytes > 0);

ALTER TABLE usage_warnings DROP CONSTRAINT usage_warnings_metric_check;
ALTER TABLE usage_warnings ADD CONSTRAINT usage_warnings_metric_check
    CHECK (metric IN ('Seats', 'Records', 'WhatsAppNumbers', 'Mailboxes', 'WhatsAppMessages',
                      'EmailMessages', 'Storage', 'SendingDomains'));

-- Staff set the new limits with the others (0056's function, two arguments more).
DROP FUNCTION staff_save_plan(uuid, text, integer, integer, integer, integer, integer, integer,
                              integer, jsonb, jsonb, text, text);
CREATE FUNCTION staff_save_plan(p_actor uuid, p_plan text, p_seats integer, p_records integer,
                                p_wa_numbers integer, p_mailboxes integer, p_wa_messages integer,
                                p_email_messages integer, p_domains integer, p_storage_mb integer,
                                p_api_per_minute integer,
                                p_features jsonb, p_prices jsonb, p_reason text, p_ip text)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    before jsonb;
BEGIN
    PERFORM staff_check(p_actor, 'plans.manage');
    PERFORM 1 FROM plans WHERE id = p_plan FOR UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    before := staff_plan_snapshot(p_plan);
    UPDATE plans SET seats_limit = p_seats, records_limit = p_records,
                     wa_numbers_limit = p_wa_numbers, mailboxes_limit = p_mailboxes,
                     wa_messages_limit = p_wa_messages, email_messages_limit = p_email_messages,
                     domains_limit = p_domains, storage_limit_mb = p_storage_mb,
                     api_per_minute = p_api_per_minute, features = p_features
     WHERE id = p_plan;
    INSERT INTO plan_prices (plan_id, cycle, currency, amount_minor)
    SELECT p_plan, x.cycle, x.currency, x.amount_minor
      FROM jsonb_to_recordset(p_prices) AS x (cycle text, currency text, amount_minor bigint)
    ON CONFLICT (plan_id, cycle, currency) DO UPDATE SET amount_minor = EXCLUDED.amount_minor;
    INSERT INTO staff_audit (actor_user_id, action, target, before, after, reason, ip)
    VALUES (p_actor, 'plan.changed', p_plan, before, staff_plan_snapshot(p_plan),
            nullif(p_reason, ''), p_ip);
    RETURN true;
END $$;
REVOKE ALL ON FUNCTION staff_save_plan(uuid, text, integer, integer, integer, integer, integer,
                                       integer, integer, integer, integer, jsonb, jsonb, text, text) FROM PUBLIC;
