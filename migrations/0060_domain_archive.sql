-- Issue 15: a sending domain can be archived like the mailboxes on it: kept (messages
-- and DKIM history refer to it), out of the lists that make new mailboxes. It is
-- archived only when every mailbox on it is, so nothing sends from it.
ALTER TABLE email_domains ADD COLUMN archived_at timestamptz;
