-- Issue 12: a project's cover picture, in the file store like plans' drawings;
-- `cover_version` changes with each upload so browsers may cache one for long.
ALTER TABLE projects
    ADD COLUMN cover_key     text CHECK (length(cover_key) <= 300),
    ADD COLUMN cover_type    text CHECK (cover_type IN ('image/png', 'image/jpeg', 'image/webp', 'image/svg+xml')),
    ADD COLUMN cover_version integer NOT NULL DEFAULT 0,
    ADD CONSTRAINT projects_cover_whole CHECK ((cover_key IS NULL) = (cover_type IS NULL));
