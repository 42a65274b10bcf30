-- Issue 15: an email step may name the mailbox it sends from, instead of the
-- rotation over every active mailbox. Removing the mailbox lets the step rotate again.
ALTER TABLE sequence_steps
    ADD COLUMN mailbox_id uuid,
    ADD CONSTRAINT sequence_steps_mailbox_fk FOREIGN KEY (tenant_id, mailbox_id)
        REFERENCES email_accounts (tenant_id, id) ON DELETE SET NULL (mailbox_id);
CREATE INDEX sequence_steps_mailbox ON sequence_steps (tenant_id, mailbox_id) WHERE mailbox_id IS NOT NULL;
