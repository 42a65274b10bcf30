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

-- Jobs are shared between tenants: a tenant with a job already running waits behind
-- tenants with none, so one tenant's queue of exports does not hold every runner.
CREATE OR REPLACE FUNCTION claim_job() RETURNS TABLE (tenant_id uuid, id uuid)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    UPDATE jobs j SET status = 'RUNNING', locked_at = now()
     WHERE j.id = (SELECT q.id FROM jobs q
                    WHERE q.status = 'QUEUED'
                       -- a runner that died mid-job: take it over after 10 minutes
                       OR (q.status = 'RUNNING' AND q.locked_at < now() - interval '10 minutes')
                    ORDER BY EXISTS (SELECT 1 FROM jobs r
                                      WHERE r.tenant_id = q.tenant_id AND r.id <> q.id
                                        AND r.status = 'RUNNING'
                                        AND r.locked_at >= now() - interval '10 minutes'),
                             q.created_at
                    FOR UPDATE SKIP LOCKED LIMIT 1)
    RETURNING j.tenant_id, j.id
$$;
