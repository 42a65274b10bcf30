-- Activities and lists change after they are made (a note edited, a task done, a list
-- renamed or filled), and the API's ETag is the microsecond of the last change: each
-- gets the column that records it. Without a default the ALTER is a catalogue change,
-- however many activities there are; NULL means unchanged since it was made.
ALTER TABLE activities ADD COLUMN updated_at timestamptz;
UPDATE activities SET updated_at = greatest(occurred_at, done_at) WHERE done_at IS NOT NULL;
ALTER TABLE lists ADD COLUMN updated_at timestamptz;
