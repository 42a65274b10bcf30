-- Who holds a WhatsApp number is confirmed with Meta, not taken on a tenant's word.
-- A number is saved with its WhatsApp Business Account (WABA) id, and only after the
-- WABA's number list, read with the tenant's own token, includes its phone_number_id.
-- Meta's webhooks name both (entry[].id and metadata.phone_number_id); they are routed
-- only to the row where both match.

-- NULL only on rows saved before confirmation existed: they still send (Meta checks
-- the token then), but receive nothing until an admin saves them again with a WABA.
ALTER TABLE wa_phone_numbers
    ADD COLUMN waba_id text CHECK (waba_id ~ '^[A-Za-z0-9_-]{1,64}$');

-- One tenant per confirmed number. An unconfirmed old row must not keep the number
-- from the tenant that proves it holds it, so the old constraint covered too much.
ALTER TABLE wa_phone_numbers DROP CONSTRAINT wa_phone_numbers_provider_phone_id_key;
CREATE UNIQUE INDEX wa_phone_numbers_confirmed ON wa_phone_numbers (provider_phone_id)
    WHERE waba_id IS NOT NULL;

DROP FUNCTION wa_phone_route(text);
CREATE FUNCTION wa_phone_route(p_waba_id text, p_provider_phone_id text)
RETURNS TABLE (tenant_id uuid, id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT p.tenant_id, p.id FROM wa_phone_numbers p
     WHERE p.provider_phone_id = p_provider_phone_id AND p.waba_id = p_waba_id
$$;
REVOKE ALL ON FUNCTION wa_phone_route(text, text) FROM PUBLIC;
