-- CSV import: an uploaded file waits as a DRAFT job while its member maps the columns
-- and looks at the preview; starting the import makes it QUEUED. Runners never see
-- drafts (claim_job takes QUEUED only), and a member's upload clears the tenant's
-- drafts older than a day.
ALTER TABLE jobs DROP CONSTRAINT jobs_status_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_status_check
    CHECK (status IN ('DRAFT', 'QUEUED', 'RUNNING', 'DONE', 'FAILED'));
