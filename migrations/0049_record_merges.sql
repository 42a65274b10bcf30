-- Issue 15: likely duplicate contacts and leads are found and merged, and a merge can
-- be undone for 30 days.

-- An email address as its owner sees it: case, a `+tag` and (at Gmail, which ignores
-- them) dots do not make another person.
CREATE FUNCTION email_norm(p_email text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN p_email IS NULL OR position('@' IN p_email) = 0 THEN lower(p_email)
        ELSE (SELECT CASE WHEN d IN ('gmail.com', 'googlemail.com')
                          THEN replace(l, '.', '') || '@gmail.com'
                          ELSE l || '@' || d END
                FROM (SELECT split_part(split_part(lower(p_email), '@', 1), '+', 1) AS l,
                             split_part(lower(p_email), '@', 2) AS d) parts)
    END
$$;
CREATE INDEX contacts_email_norm ON contacts (tenant_id, email_norm(email::text)) WHERE email IS NOT NULL;
CREATE INDEX leads_email_norm ON leads (tenant_id, email_norm(email::text)) WHERE email IS NOT NULL;

ALTER TABLE activities DROP CONSTRAINT activities_kind_check;
ALTER TABLE activities ADD CONSTRAINT activities_kind_check
    CHECK (kind IN ('NOTE', 'CALL', 'EMAIL', 'WHATSAPP', 'MEETING', 'TASK', 'STAGE_CHANGE',
                    'STATUS_CHANGE', 'ASSIGNMENT', 'CREATED', 'LIST_ADD', 'LIST_REMOVE', 'IMPORTED',
                    'JOURNEY', 'ENROLLED', 'APPROVAL', 'MERGED', 'MERGE_UNDONE'));

-- One merge: the record kept, the one folded into it (deleted, its row kept here), the
-- kept row before and after, and the ids of every row moved from one to the other, so
-- an undo puts back exactly what the merge moved and nothing added since.
CREATE TABLE record_merges (
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          uuid NOT NULL PRIMARY KEY,
    entity      text NOT NULL CHECK (entity IN ('LEAD', 'CONTACT')),
    kept_id     uuid NOT NULL,
    merged_id   uuid NOT NULL,
    merged_name text NOT NULL,
    kept_before jsonb NOT NULL,
    kept_after  jsonb NOT NULL,
    merged_row  jsonb NOT NULL,
    -- {"activities": [ids], "deals": [ids], ...}; list memberships the kept record
    -- already had are under "list_dropped", a journey the kept lead had under
    -- "journey_dropped" (the row itself).
    moved       jsonb NOT NULL,
    merged_by   uuid REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    undone_at   timestamptz,
    undone_by   uuid REFERENCES users (id),
    UNIQUE (tenant_id, id)
);
CREATE INDEX record_merges_kept ON record_merges (tenant_id, kept_id, created_at DESC);
CREATE INDEX record_merges_merged ON record_merges (tenant_id, merged_id, created_at DESC);
ALTER TABLE record_merges ENABLE ROW LEVEL SECURITY;
ALTER TABLE record_merges FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON record_merges USING (tenant_id = (SELECT app_tenant()))
    WITH CHECK (tenant_id = (SELECT app_tenant()));

-- A merge is undone within 30 days or not at all; after that the deleted record's row it
-- holds is personal data kept for nothing, so the nightly sweep removes it.
DROP FUNCTION retention_sweep();
CREATE FUNCTION retention_sweep(OUT jobs bigint, OUT job_logs bigint, OUT notifications bigint,
                                OUT audit_archived bigint, OUT merges bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    cutoff timestamptz := date_trunc('month', now() - interval '2 years');
BEGIN
    WITH gone AS (DELETE FROM jobs
                   WHERE status IN ('DONE', 'FAILED', 'DEAD', 'CANCELLED')
                     AND finished_at < now() - interval '90 days'
                  RETURNING 1)
    SELECT count(*) INTO jobs FROM gone;

    WITH gone AS (DELETE FROM job_logs l WHERE l.at < now() - interval '30 days' RETURNING 1)
    SELECT count(*) INTO job_logs FROM gone;

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

    WITH gone AS (DELETE FROM record_merges WHERE created_at < now() - interval '30 days' RETURNING 1)
    SELECT count(*) INTO merges FROM gone;
END $$;
REVOKE ALL ON FUNCTION retention_sweep() FROM PUBLIC;
