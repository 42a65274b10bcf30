-- A member hears when their import or export has finished or failed.
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check
    CHECK (kind IN ('SEND_FAILED', 'SENDER_PAUSED', 'REPLY', 'REVIEW_ASSIGNED', 'SLA_BREACH', 'JOB_FINISHED'));
