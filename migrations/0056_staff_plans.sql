-- Issue 13: staff edit the plan catalogue (limits, features, list prices). The runtime
-- role cannot write plans or plan_prices; this function checks `plans.manage` and
-- records before and after in the staff log, in the statement's transaction.
INSERT INTO staff_permissions (key, description) VALUES
    ('plans.manage', 'Change plan limits, features and list prices');
INSERT INTO staff_role_permissions (role_key, permission_key) VALUES
    ('owner', 'plans.manage'), ('finance', 'plans.manage');

CREATE FUNCTION staff_plan_snapshot(p_plan text) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    SELECT to_jsonb(p) - 'names' - 'sort_order'
           || jsonb_build_object('prices', (SELECT coalesce(jsonb_object_agg(pp.cycle || ' ' || pp.currency, pp.amount_minor), '{}')
                                              FROM plan_prices pp WHERE pp.plan_id = p.id))
      FROM plans p WHERE p.id = p_plan
$$;

-- `p_prices`: [{"cycle": "MONTHLY", "currency": "USD", "amount_minor": 2900}, …]; a
-- price not listed is kept. False when there is no such plan.
CREATE FUNCTION staff_save_plan(p_actor uuid, p_plan text, p_seats integer, p_records integer,
                                p_wa_numbers integer, p_mailboxes integer, p_wa_messages integer,
                                p_email_messages integer, p_api_per_minute integer,
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
                                       integer, integer, jsonb, jsonb, text, text) FROM PUBLIC;
