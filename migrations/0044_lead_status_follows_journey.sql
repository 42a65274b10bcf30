-- Issue 15: a lead's status follows its outreach journey (contacted, replied,
-- converted, lost) unless a person set it, whose choice then stands.
ALTER TABLE leads DROP CONSTRAINT leads_status_check;
ALTER TABLE leads ADD CONSTRAINT leads_status_check
    CHECK (status IN ('NEW', 'PROSPECTED', 'CONTACTED', 'REPLIED', 'QUALIFIED', 'CONVERTED', 'LOST'));
-- Who set the status last: 'AUTO' (new, or the journey) or 'MANUAL' (the form, a bulk
-- action, the API, an import or a conversion).
ALTER TABLE leads ADD COLUMN status_source text NOT NULL DEFAULT 'AUTO'
    CHECK (status_source IN ('AUTO', 'MANUAL'));

-- Every status change is a person's unless the journey trigger below flags it as its
-- own for the statement, so no write path can forget to say which it is.
CREATE FUNCTION leads_status_source() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status THEN
        NEW.status_source := CASE
            WHEN current_setting('leadline.status_by_journey', true) = 'on' THEN 'AUTO'
            ELSE 'MANUAL' END;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER leads_status_source BEFORE UPDATE OF status ON leads
    FOR EACH ROW EXECUTE FUNCTION leads_status_source();

-- One statement per journey update, however many rows it moved (a dispatcher's batch
-- moves hundreds at once).
CREATE FUNCTION lead_status_from_journey() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('leadline.status_by_journey', 'on', true);
    UPDATE leads l SET status = x.status, updated_at = now()
      FROM (SELECT n.tenant_id, n.lead_id,
                   CASE n.state
                       WHEN 'CONTACTED_EMAIL' THEN 'CONTACTED'
                       WHEN 'CONTACTED_WA' THEN 'CONTACTED'
                       WHEN 'WARM_REPLY' THEN 'REPLIED'
                       WHEN 'NEGOTIATION' THEN 'REPLIED'
                       WHEN 'CONVERTED' THEN 'CONVERTED'
                       WHEN 'DEAD' THEN 'LOST'
                   END AS status
              FROM new_journeys n JOIN old_journeys o ON o.lead_id = n.lead_id
             WHERE n.state IS DISTINCT FROM o.state) x
     WHERE l.tenant_id = x.tenant_id AND l.id = x.lead_id AND x.status IS NOT NULL
       AND l.status_source = 'AUTO' AND l.status IS DISTINCT FROM x.status;
    PERFORM set_config('leadline.status_by_journey', 'off', true);
    RETURN NULL;
END $$;
CREATE TRIGGER lead_status_from_journey AFTER UPDATE ON lead_journeys
    REFERENCING OLD TABLE AS old_journeys NEW TABLE AS new_journeys
    FOR EACH STATEMENT EXECUTE FUNCTION lead_status_from_journey();

-- Leads already under way catch up once, where nobody chose a status by hand. A
-- status other than NEW may have been a person's; those are left as they are.
CREATE POLICY status_backfill ON leads TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY status_backfill ON lead_journeys TO CURRENT_USER USING (true);
SELECT set_config('leadline.status_by_journey', 'on', true);
UPDATE leads l SET status = CASE j.state
        WHEN 'CONTACTED_EMAIL' THEN 'CONTACTED' WHEN 'CONTACTED_WA' THEN 'CONTACTED'
        WHEN 'WARM_REPLY' THEN 'REPLIED' WHEN 'NEGOTIATION' THEN 'REPLIED'
        WHEN 'CONVERTED' THEN 'CONVERTED' WHEN 'DEAD' THEN 'LOST' END
  FROM lead_journeys j
 WHERE j.lead_id = l.id AND l.status = 'NEW'
   AND j.state IN ('CONTACTED_EMAIL', 'CONTACTED_WA', 'WARM_REPLY', 'NEGOTIATION', 'CONVERTED', 'DEAD');
SELECT set_config('leadline.status_by_journey', 'off', true);
DROP POLICY status_backfill ON leads;
DROP POLICY status_backfill ON lead_journeys;
