-- Issue 15: WhatsApp numbers and mailboxes are archived, never deleted: messages keep
-- pointing at them. An archived sender is offered to no new send, its leads move to
-- another number or mailbox at their next message, and it does not count against the
-- plan's sender limits.
ALTER TABLE wa_phone_numbers ADD COLUMN archived_at timestamptz;
ALTER TABLE email_accounts ADD COLUMN archived_at timestamptz;
