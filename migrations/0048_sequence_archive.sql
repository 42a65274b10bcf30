-- Issue 15: a sequence is archived when the team is done with it: hidden from the
-- lists, closed to new enrolments, its enrolments held where they are (the scheduler
-- takes ACTIVE sequences only). Restoring it brings it back paused.
ALTER TABLE sequences DROP CONSTRAINT sequences_status_check;
ALTER TABLE sequences ADD CONSTRAINT sequences_status_check
    CHECK (status IN ('ACTIVE', 'PAUSED', 'ARCHIVED'));
