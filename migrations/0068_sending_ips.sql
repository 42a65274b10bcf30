-- Issue 13: the platform's pool of sending IP addresses (seed 003 `smtp_ip_addresses`,
-- `domain_ip_assignments`), with warm-up, reputation from DNS blocklists, and the
-- tenants' sending domains assigned to them.
--
-- The pool is the platform's, not a workspace's: the runtime role may read it (a
-- workspace sees the address its domain sends from) but only the staff_* functions
-- below (`ips.manage`) and the reputation check change it.

CREATE TABLE sending_ips (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- One host address, IPv4 or IPv6; whether it is public is checked by the app.
    address           inet NOT NULL UNIQUE
                      CHECK (masklen(address) = CASE family(address) WHEN 4 THEN 32 ELSE 128 END),
    -- Seed 003's 'assigned' is left out: whether an address carries domains is read
    -- from its assignments, so it cannot disagree with them.
    status            text NOT NULL DEFAULT 'available'
                      CHECK (status IN ('available', 'warming', 'warmed', 'degraded', 'burned', 'quarantined')),
    -- Day 1 of the warm-up; set when the address starts warming.
    warmup_started_on date,
    -- NULL until a check has heard from at least one list.
    reputation        text CHECK (reputation IN ('good', 'fair', 'poor', 'critical')),
    -- The last check, list by list: [{zone, verdict: clear|listed|unknown, codes, reason}].
    blocklists        jsonb NOT NULL DEFAULT '[]',
    checked_at        timestamptz,
    -- Why the status is what it is, when the check (not staff) changed it.
    status_note       text CHECK (length(status_note) <= 500),
    note              text CHECK (length(note) <= 500),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- Seed 003's 'warming' and 'scheduled' states are left out: warm-up is the address's
-- (every domain on it shares it), and an assignment starts when staff make it.
CREATE TABLE domain_ip_assignments (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    domain_id   uuid NOT NULL,
    ip_id       uuid NOT NULL REFERENCES sending_ips (id) ON DELETE RESTRICT,
    status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'expired')),
    assigned_at timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz,
    FOREIGN KEY (tenant_id, domain_id) REFERENCES email_domains (tenant_id, id) ON DELETE CASCADE
);
-- A domain sends from one address at a time.
CREATE UNIQUE INDEX domain_ip_assignments_one_active ON domain_ip_assignments (domain_id)
    WHERE status = 'active';
CREATE INDEX domain_ip_assignments_ip ON domain_ip_assignments (ip_id) WHERE status = 'active';
CREATE INDEX domain_ip_assignments_tenant ON domain_ip_assignments (tenant_id);
ALTER TABLE domain_ip_assignments ENABLE ROW LEVEL SECURITY;
ALTER TABLE domain_ip_assignments FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON domain_ip_assignments USING (tenant_id = (SELECT app_tenant()))
    WITH CHECK (tenant_id = (SELECT app_tenant()));

INSERT INTO staff_permissions (key, description) VALUES
    ('ips.manage', 'Add sending IP addresses, change their state and assign domains to them');
INSERT INTO staff_role_permissions (role_key, permission_key) VALUES
    ('owner', 'ips.manage'), ('engineer', 'ips.manage');

INSERT INTO system_config (key, value, description, category) VALUES
    ('sending.dnsbl_zones', '["zen.spamhaus.org", "bl.spamcop.net", "b.barracudacentral.org"]',
     'DNS blocklists the sending IP addresses are checked against', 'sending');

-- Every address with the domains it carries, for the console.
CREATE FUNCTION staff_sending_ips(p_actor uuid)
RETURNS TABLE (id uuid, address text, status text, warmup_started_on date, reputation text,
               blocklists jsonb, checked_at timestamptz, status_note text, note text,
               domains jsonb)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM staff_check(p_actor, 'console.view');
    RETURN QUERY
    SELECT i.id, host(i.address), i.status, i.warmup_started_on, i.reputation, i.blocklists,
           i.checked_at, i.status_note, i.note,
           coalesce((SELECT jsonb_agg(jsonb_build_object(
                        'id', a.id, 'domain', d.domain::text, 'workspace', t.name,
                        'slug', t.slug, 'assigned_at', a.assigned_at)
                        ORDER BY t.name, d.domain)
                       FROM domain_ip_assignments a
                       JOIN email_domains d ON d.id = a.domain_id AND d.tenant_id = a.tenant_id
                       JOIN tenants t ON t.id = a.tenant_id
                      WHERE a.ip_id = i.id AND a.status = 'active'), '[]')
      FROM sending_ips i
     ORDER BY i.address;
END $$;

-- Adds an address; NULL when it is in the pool already.
CREATE FUNCTION staff_ip_add(p_actor uuid, p_address inet, p_note text, p_ip text) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    added uuid;
BEGIN
    PERFORM staff_check(p_actor, 'ips.manage');
    INSERT INTO sending_ips (address, note) VALUES (p_address, nullif(p_note, ''))
    ON CONFLICT (address) DO NOTHING
    RETURNING id INTO added;
    IF added IS NOT NULL THEN
        INSERT INTO staff_audit (actor_user_id, action, target, after, ip)
        VALUES (p_actor, 'ip.added', host(p_address),
                jsonb_build_object('note', nullif(p_note, '')), p_ip);
    END IF;
    RETURN added;
END $$;

-- Sets an address's state. Warming starts the warm-up at day 1; burned and
-- quarantined addresses stop carrying domains, and the domains they carried are
-- returned (and recorded) so staff can move them. NULL when there is no such address.
CREATE FUNCTION staff_ip_set_status(p_actor uuid, p_id uuid, p_status text, p_reason text,
                                    p_ip text) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    old sending_ips%ROWTYPE;
    ended jsonb := '[]';
BEGIN
    PERFORM staff_check(p_actor, 'ips.manage');
    SELECT * INTO old FROM sending_ips WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    UPDATE sending_ips
       SET status = p_status, status_note = NULL, updated_at = now(),
           warmup_started_on = CASE
               WHEN p_status = 'warming' AND old.status <> 'warming' THEN current_date
               WHEN p_status = 'warming' THEN old.warmup_started_on
               WHEN p_status = 'warmed' THEN old.warmup_started_on
               ELSE NULL END
     WHERE id = p_id;
    IF p_status IN ('burned', 'quarantined') THEN
        WITH gone AS (
            UPDATE domain_ip_assignments a SET status = 'expired', expires_at = now()
             WHERE a.ip_id = p_id AND a.status = 'active'
            RETURNING a.tenant_id, a.domain_id)
        SELECT coalesce(jsonb_agg(d.domain::text || ' (' || t.name || ')' ORDER BY d.domain), '[]')
          INTO ended
          FROM gone g JOIN email_domains d ON d.id = g.domain_id
          JOIN tenants t ON t.id = g.tenant_id;
    END IF;
    INSERT INTO staff_audit (actor_user_id, action, target, before, after, reason, ip)
    VALUES (p_actor, 'ip.status', host(old.address), jsonb_build_object('status', old.status),
            jsonb_build_object('status', p_status, 'domains_ended', ended),
            nullif(p_reason, ''), p_ip);
    RETURN jsonb_build_object('ended', ended);
END $$;

-- Assigns workspace `p_slug`'s sending domain `p_domain` to an address, moving it off
-- the one it had. Answers 'assigned', 'already', 'no_ip', 'unusable' (degraded,
-- burned or quarantined), 'no_workspace' or 'no_domain'.
CREATE FUNCTION staff_ip_assign(p_actor uuid, p_id uuid, p_slug text, p_domain text,
                                p_reason text, p_ip text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    target sending_ips%ROWTYPE;
    ws tenants%ROWTYPE;
    dom email_domains%ROWTYPE;
    previous text;
BEGIN
    PERFORM staff_check(p_actor, 'ips.manage');
    SELECT * INTO target FROM sending_ips WHERE id = p_id FOR SHARE;
    IF NOT FOUND THEN
        RETURN 'no_ip';
    END IF;
    IF target.status IN ('degraded', 'burned', 'quarantined') THEN
        RETURN 'unusable';
    END IF;
    SELECT * INTO ws FROM tenants WHERE slug = lower(p_slug);
    IF NOT FOUND THEN
        RETURN 'no_workspace';
    END IF;
    SELECT * INTO dom FROM email_domains
     WHERE tenant_id = ws.id AND domain = p_domain AND archived_at IS NULL FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'no_domain';
    END IF;
    SELECT host(i.address) INTO previous
      FROM domain_ip_assignments a JOIN sending_ips i ON i.id = a.ip_id
     WHERE a.domain_id = dom.id AND a.status = 'active';
    IF previous = host(target.address) THEN
        RETURN 'already';
    END IF;
    UPDATE domain_ip_assignments SET status = 'expired', expires_at = now()
     WHERE domain_id = dom.id AND status = 'active';
    INSERT INTO domain_ip_assignments (tenant_id, domain_id, ip_id)
    VALUES (ws.id, dom.id, p_id);
    INSERT INTO staff_audit (actor_user_id, action, target, before, after, reason, ip)
    VALUES (p_actor, 'ip.assigned', dom.domain::text || ' (' || ws.name || ')',
            jsonb_build_object('address', previous),
            jsonb_build_object('address', host(target.address)), nullif(p_reason, ''), p_ip);
    RETURN 'assigned';
END $$;

-- Ends one assignment; false when it is not active.
CREATE FUNCTION staff_ip_unassign(p_actor uuid, p_assignment uuid, p_reason text, p_ip text)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    what text;
BEGIN
    PERFORM staff_check(p_actor, 'ips.manage');
    UPDATE domain_ip_assignments a SET status = 'expired', expires_at = now()
      FROM email_domains d, tenants t, sending_ips i
     WHERE a.id = p_assignment AND a.status = 'active'
       AND d.id = a.domain_id AND t.id = a.tenant_id AND i.id = a.ip_id
    RETURNING d.domain::text || ' (' || t.name || ') from ' || host(i.address) INTO what;
    IF what IS NULL THEN
        RETURN false;
    END IF;
    INSERT INTO staff_audit (actor_user_id, action, target, reason, ip)
    VALUES (p_actor, 'ip.unassigned', what, nullif(p_reason, ''), p_ip);
    RETURN true;
END $$;

-- The addresses the reputation check asks about, least recently checked first.
CREATE FUNCTION sending_ips_to_check(p_limit integer)
RETURNS TABLE (id uuid, address text, status text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT i.id, host(i.address), i.status FROM sending_ips i
     ORDER BY i.checked_at NULLS FIRST, i.address
     LIMIT least(greatest(p_limit, 1), 10000)
$$;

-- Records a check. A listed address (reputation below good) that was in use or
-- warming is marked degraded, with the lists that listed it; one that warmed for
-- `p_warmup_days` days is warmed. Answers the address's status afterwards.
CREATE FUNCTION sending_ip_checked(p_id uuid, p_reputation text, p_blocklists jsonb,
                                   p_warmup_days integer) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    listed text;
    now_status text;
BEGIN
    SELECT string_agg(b->>'zone', ', ') INTO listed
      FROM jsonb_array_elements(p_blocklists) b WHERE b->>'verdict' = 'listed';
    UPDATE sending_ips SET
           reputation = coalesce(p_reputation, reputation),
           blocklists = p_blocklists,
           checked_at = now(),
           status = CASE
               WHEN listed IS NOT NULL AND status IN ('available', 'warming', 'warmed') THEN 'degraded'
               WHEN status = 'warming' AND warmup_started_on <= current_date - p_warmup_days THEN 'warmed'
               ELSE status END,
           status_note = CASE
               WHEN listed IS NOT NULL AND status IN ('available', 'warming', 'warmed')
                   THEN left('Listed on ' || listed, 500)
               ELSE status_note END,
           updated_at = now()
     WHERE id = p_id
    RETURNING status INTO now_status;
    RETURN now_status;
END $$;

INSERT INTO schedules (name, cron) VALUES ('sending_ips.check', '0 17 */6 * * *');

DO $$
DECLARE f text;
BEGIN
    FOREACH f IN ARRAY ARRAY[
        'staff_sending_ips(uuid)', 'staff_ip_add(uuid, inet, text, text)',
        'staff_ip_set_status(uuid, uuid, text, text, text)',
        'staff_ip_assign(uuid, uuid, text, text, text, text)',
        'staff_ip_unassign(uuid, uuid, text, text)', 'sending_ips_to_check(integer)',
        'sending_ip_checked(uuid, text, jsonb, integer)']
    LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END $$;
