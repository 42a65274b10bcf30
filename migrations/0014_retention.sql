-- Retention (seed 001): finished jobs and their files go after 90 days, read
-- notifications after 90 days, and audit entries older than two years are archived,
-- a tenant-month to a row, before they leave the append-only log.

CREATE TABLE audit_archives (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    month      date NOT NULL,
    entries    integer NOT NULL,
    -- The archived entries as JSON lines, oldest first: every column, as exported.
    content    bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, month)
);
ALTER TABLE audit_archives ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_archives FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_archives USING (tenant_id = (SELECT app_tenant()))
    WITH CHECK (tenant_id = (SELECT app_tenant()));
CREATE POLICY definer_retention ON audit_archives TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY definer_retention ON audit_logs TO CURRENT_USER USING (true);
CREATE POLICY definer_retention ON notifications TO CURRENT_USER USING (true);

-- The log stays append-only for everyone but the archiving below, which says so for
-- its own transaction.
CREATE OR REPLACE FUNCTION audit_logs_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('leadline.archiving_audit', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_logs is append-only (% rejected)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE FUNCTION retention_sweep(OUT jobs bigint, OUT notifications bigint, OUT audit_archived bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    cutoff timestamptz := date_trunc('month', now() - interval '2 years');
BEGIN
    WITH gone AS (DELETE FROM jobs
                   WHERE status IN ('DONE', 'FAILED', 'CANCELLED')
                     AND finished_at < now() - interval '90 days'
                  RETURNING 1)
    SELECT count(*) INTO jobs FROM gone;

    WITH gone AS (DELETE FROM notifications
                   WHERE read_at < now() - interval '90 days'
                  RETURNING 1)
    SELECT count(*) INTO notifications FROM gone;

    -- Whole months only, so a month's archive is written once. A month archived
    -- before (a sweep that stopped half-way) gets the rest appended.
    INSERT INTO audit_archives AS a (tenant_id, month, entries, content)
    SELECT l.tenant_id, date_trunc('month', l.created_at)::date, count(*),
           convert_to(string_agg(to_jsonb(l)::text, E'\n' ORDER BY l.created_at, l.id) || E'\n',
                      'UTF8')
      FROM audit_logs l
     WHERE l.created_at < cutoff
     GROUP BY 1, 2
    ON CONFLICT (tenant_id, month) DO UPDATE
       SET entries = a.entries + EXCLUDED.entries, content = a.content || EXCLUDED.content;

    PERFORM set_config('leadline.archiving_audit', 'on', true);
    WITH gone AS (DELETE FROM audit_logs WHERE created_at < cutoff RETURNING 1)
    SELECT count(*) INTO audit_archived FROM gone;
    PERFORM set_config('leadline.archiving_audit', 'off', true);
END $$;
REVOKE ALL ON FUNCTION retention_sweep() FROM PUBLIC;
