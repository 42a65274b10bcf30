-- A dispatch pass extends the leases of the outbox rows it still holds, so a pass that
-- takes longer than a lease (slow mail servers, wave after wave) never hands its rows
-- to another dispatcher, which would send them a second time.
CREATE FUNCTION renew_outbox_leases(p_ids uuid[]) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    UPDATE outbox SET leased_until = now() + interval '2 minutes'
     WHERE message_id = ANY(p_ids) AND leased_until IS NOT NULL
$$;
REVOKE ALL ON FUNCTION renew_outbox_leases(uuid[]) FROM PUBLIC;
