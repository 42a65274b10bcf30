-- A job's file is stored in parts, so an export is written a batch at a time and a
-- download is sent a part at a time: neither holds a whole file in memory, and an
-- import's error report grows by a new part instead of rewriting what it had.
ALTER TABLE job_files ADD COLUMN part integer NOT NULL DEFAULT 0 CHECK (part >= 0);
ALTER TABLE job_files DROP CONSTRAINT job_files_pkey;
ALTER TABLE job_files ADD PRIMARY KEY (tenant_id, job_id, name, part);
