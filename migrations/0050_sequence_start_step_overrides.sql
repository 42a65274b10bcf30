-- Issue 15: a sequence can be given a moment to start sending (a launch date). Its
-- enrolments wait for it: enrolling sets the first run no earlier, and setting or moving
-- the start pushes the enrolments already waiting (app/src/outreach/ssr/sequences.rs).
ALTER TABLE sequences ADD COLUMN starts_at timestamptz;

-- A step can give its email a subject of its own (instead of the template's) and a
-- sender name (instead of the mailbox's). The name goes into a From header, so it can
-- never carry a line break.
ALTER TABLE sequence_steps
    ADD COLUMN subject_override text CHECK (length(subject_override) BETWEEN 1 AND 300),
    ADD COLUMN from_name text CHECK (length(from_name) BETWEEN 1 AND 100 AND from_name !~ '[[:cntrl:]]');
