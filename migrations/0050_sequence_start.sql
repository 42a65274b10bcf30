-- Issue 15: a sequence can be given a moment to start sending (a launch date). Its
-- enrolments wait for it: enrolling sets the first run no earlier, and setting or moving
-- the start pushes the enrolments already waiting (app/src/outreach/ssr/sequences.rs).
ALTER TABLE sequences ADD COLUMN starts_at timestamptz;
