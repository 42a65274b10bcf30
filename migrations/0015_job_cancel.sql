-- A member may cancel an import or export that is waiting or running. A running one
-- stops after the batch in hand; what earlier batches committed stays.
ALTER TABLE jobs DROP CONSTRAINT jobs_status_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_status_check
    CHECK (status IN ('DRAFT', 'QUEUED', 'RUNNING', 'DONE', 'FAILED', 'CANCELLED'));
