-- Sign-in hardening: second-factor failures counted per user, replayed TOTP codes
-- refused, TOTP secrets sealed, and a throttle whose counts every instance shares.

-- The second factor has its own counter and lock, kept in the database so that a new
-- session (a new cookie) does not start a fresh set of guesses. totp_last_step is the
-- 30-second step of the last accepted code: a code is good once (RFC 6238 §5.2).
ALTER TABLE users
    ADD COLUMN totp_failures     integer NOT NULL DEFAULT 0,
    ADD COLUMN totp_locked_until timestamptz,
    ADD COLUMN totp_last_step    bigint,
    -- The TOTP secret, sealed with the server key (crypto::seal_field). A secret still
    -- in the plain totp_secret column (enrolled before this migration) is sealed and
    -- cleared at its owner's next sign-in.
    ADD COLUMN totp_secret_sealed bytea;

-- Throttle counters: fixed windows per (bucket, subject), shared by every instance.
-- A subject is an IP address or a digest of an email, never the email itself.
-- Not tenant data: the runtime role reaches it only through rate_limit_hit().
CREATE TABLE rate_limits (
    bucket       text NOT NULL,
    subject      text NOT NULL,
    window_start timestamptz NOT NULL,
    hits         integer NOT NULL,
    PRIMARY KEY (bucket, subject)
);
ALTER TABLE rate_limits ENABLE ROW LEVEL SECURITY;
ALTER TABLE rate_limits FORCE ROW LEVEL SECURITY;
CREATE POLICY definer_only ON rate_limits TO CURRENT_USER USING (true) WITH CHECK (true);

-- Adds p_cost hits (1 counts an attempt, 0 only looks) and answers 0 while the subject
-- is within p_limit, else the seconds until its window ends (the Retry-After). One
-- upsert: concurrent hits on one subject serialise on its row, so the count is exact
-- across instances. With p_cost 0 the question is whether one more would be allowed.
CREATE FUNCTION rate_limit_hit(p_bucket text, p_subject text, p_limit integer,
                               p_window_secs integer, p_cost integer)
RETURNS integer
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    INSERT INTO rate_limits AS r (bucket, subject, window_start, hits)
    VALUES (p_bucket, p_subject, now(), p_cost)
    ON CONFLICT (bucket, subject) DO UPDATE
       SET window_start = CASE WHEN r.window_start + make_interval(secs => p_window_secs) <= now()
                               THEN now() ELSE r.window_start END,
           hits = CASE WHEN r.window_start + make_interval(secs => p_window_secs) <= now()
                       THEN p_cost ELSE r.hits + p_cost END
    RETURNING CASE WHEN hits + (1 - p_cost) <= p_limit THEN 0
                   ELSE greatest(1, ceil(extract(epoch FROM
                            window_start + make_interval(secs => p_window_secs) - now()))::integer)
              END
$$;

-- Old windows go with the worker's session sweep.
CREATE FUNCTION rate_limit_sweep() RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH gone AS (DELETE FROM rate_limits WHERE window_start < now() - interval '1 day' RETURNING 1)
    SELECT count(*) FROM gone
$$;

REVOKE ALL ON FUNCTION rate_limit_hit(text, text, integer, integer, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION rate_limit_sweep() FROM PUBLIC;

-- Sessions are now stored under a digest of their id (crypto::session_key). The rows
-- keyed by raw ids go: everyone signs in once more, and no usable cookie stays behind
-- in the table.
DELETE FROM sessions;

-- Email verification and password reset. An account's address is confirmed by a
-- link sent to it; a workspace may require confirmed addresses of its members.
ALTER TABLE users ADD COLUMN email_verified_at timestamptz;
ALTER TABLE tenant_policies
    ADD COLUMN require_verified_email boolean NOT NULL DEFAULT false;

-- Single-use links sent by email. Only a digest of the token is stored; the link
-- itself exists only in the recipient's mailbox.
CREATE TABLE auth_tokens (
    token_hash bytea PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    text NOT NULL CHECK (purpose IN ('VERIFY_EMAIL', 'RESET_PASSWORD')),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX auth_tokens_user ON auth_tokens (user_id, purpose);
ALTER TABLE auth_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY self ON auth_tokens
    USING (user_id = (SELECT app_user())) WITH CHECK (user_id = (SELECT app_user()));
CREATE POLICY definer_lookup ON auth_tokens FOR SELECT TO CURRENT_USER USING (true);

-- The user a live link belongs to, before anyone is signed in.
CREATE FUNCTION auth_token_user(p_token_hash bytea, p_purpose text) RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT user_id FROM auth_tokens
     WHERE token_hash = p_token_hash AND purpose = p_purpose
       AND used_at IS NULL AND expires_at > now()
$$;
REVOKE ALL ON FUNCTION auth_token_user(bytea, text) FROM PUBLIC;

-- Live board events name the deal's owner now and before the change, so each open
-- stream passes on only the deals its viewer may see (src/events.rs).
CREATE OR REPLACE FUNCTION deals_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('deal_changes', json_build_object(
        't', NEW.tenant_id, 'p', NEW.pipeline_id, 'd', NEW.id, 'v', NEW.version,
        'o', NEW.owner_id,
        'q', CASE WHEN TG_OP = 'UPDATE' THEN OLD.owner_id END)::text);
    RETURN NULL;
END $$;
