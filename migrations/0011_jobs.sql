-- Uploaded files nobody went on to import are swept by the worker for every tenant,
-- a day after their upload (an upload also counts the tenant's waiting files against
-- a budget: crm/import/ssr.rs).
CREATE FUNCTION sweep_import_drafts() RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH gone AS (DELETE FROM jobs WHERE status = 'DRAFT' AND created_at < now() - interval '1 day'
                  RETURNING 1)
    SELECT count(*) FROM gone
$$;
REVOKE ALL ON FUNCTION sweep_import_drafts() FROM PUBLIC;

-- A runner renews its job's lease while the job runs, so a long import or export is
-- never taken over (claim_job() takes a RUNNING job whose lease is ten minutes old)
-- and run twice.
CREATE FUNCTION renew_job_lease(p_id uuid) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    UPDATE jobs SET locked_at = now() WHERE id = p_id AND status = 'RUNNING'
$$;
REVOKE ALL ON FUNCTION renew_job_lease(uuid) FROM PUBLIC;
