-- Live updates beyond the board: a member's new or read notifications, and changes to
-- the tenant's review queue (reply items and approval requests), are announced on
-- `live_changes` for the one event stream each open tab holds (src/events.rs).
-- Payloads carry ids only; the page re-reads what it shows through the usual checks.
-- PostgreSQL folds equal payloads of one transaction into one notification, so a
-- sweep touching a thousand items of a tenant announces it once.

CREATE FUNCTION notifications_announce() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('live_changes', json_build_object('k', 'notice', 't', NEW.tenant_id, 'u', NEW.user_id)::text);
    RETURN NULL;
END $$;
CREATE TRIGGER notifications_changed AFTER INSERT OR UPDATE OF read_at ON notifications
    FOR EACH ROW EXECUTE FUNCTION notifications_announce();

CREATE FUNCTION review_announce() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('live_changes', json_build_object('k', 'review', 't', NEW.tenant_id)::text);
    RETURN NULL;
END $$;
CREATE TRIGGER review_items_changed AFTER INSERT OR UPDATE ON review_items
    FOR EACH ROW EXECUTE FUNCTION review_announce();
CREATE TRIGGER approval_requests_changed AFTER INSERT OR UPDATE ON approval_requests
    FOR EACH ROW EXECUTE FUNCTION review_announce();

-- My inbox lists a member's unread replies first: an inbound message is seen once the
-- lead's owner marks it read or answers it (seen by the lead's owner, whoever that is
-- now, not per member: a reply is the owner's to handle).
ALTER TABLE messages ADD COLUMN seen_at timestamptz;
