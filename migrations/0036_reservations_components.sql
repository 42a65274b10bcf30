-- Issue 12: reservations that follow the deal, unit components, and the per-member
-- `inventory` grant (DECISIONS 58).

-- A held unit becomes RESERVED when its deal reaches a stage at least this likely to
-- close, and goes back to HELD if the deal moves back. NULL: never by itself.
ALTER TABLE tenant_policies ADD COLUMN reserve_at_probability integer DEFAULT 75
    CHECK (reserve_at_probability BETWEEN 1 AND 99);
-- A reserved hold does not lapse: the deal is committed, so neither the expiry sweep
-- nor the reminder touches it.
ALTER TABLE unit_holds ADD COLUMN reserved_at timestamptz;

-- Brings a deal's live holds in line with its stage. Called by the deal's trigger on
-- a stage move and by the hold path, so a hold for a deal already at a committed
-- stage is a reservation at once.
CREATE FUNCTION deal_units_follow_stage(p_tenant uuid, p_deal uuid) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    threshold integer;
    hours integer;
    committed boolean;
BEGIN
    SELECT tp.reserve_at_probability, tp.hold_hours INTO threshold, hours
      FROM tenant_policies tp WHERE tp.tenant_id = p_tenant;
    IF NOT FOUND THEN
        threshold := 75;
        hours := 48;
    END IF;
    SELECT d.status = 'OPEN' AND threshold IS NOT NULL AND s.probability >= threshold INTO committed
      FROM deals d JOIN stages s ON s.tenant_id = d.tenant_id AND s.id = d.stage_id
     WHERE d.tenant_id = p_tenant AND d.id = p_deal AND d.status = 'OPEN';
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF committed THEN
        WITH reserved AS (
            UPDATE unit_holds SET reserved_at = now()
             WHERE tenant_id = p_tenant AND deal_id = p_deal AND released_at IS NULL AND reserved_at IS NULL
            RETURNING unit_id
        )
        UPDATE units u SET status = 'RESERVED', version = u.version + 1, updated_at = now()
          FROM reserved r
         WHERE u.tenant_id = p_tenant AND u.id = r.unit_id AND u.status = 'HELD';
    ELSE
        -- Back to a hold, with at least a fresh hold period to act in.
        WITH unreserved AS (
            UPDATE unit_holds SET reserved_at = NULL, reminded_at = NULL,
                                  expires_at = greatest(expires_at, now() + make_interval(hours => hours))
             WHERE tenant_id = p_tenant AND deal_id = p_deal AND released_at IS NULL AND reserved_at IS NOT NULL
            RETURNING unit_id
        )
        UPDATE units u SET status = 'HELD', version = u.version + 1, updated_at = now()
          FROM unreserved r
         WHERE u.tenant_id = p_tenant AND u.id = r.unit_id AND u.status = 'RESERVED';
    END IF;
END $$;

CREATE FUNCTION deals_reserve_units() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM deal_units_follow_stage(NEW.tenant_id, NEW.id);
    RETURN NULL;
END $$;
CREATE TRIGGER deals_reserve_units AFTER UPDATE OF stage_id ON deals
    FOR EACH ROW WHEN (OLD.stage_id IS DISTINCT FROM NEW.stage_id AND NEW.status = 'OPEN')
    EXECUTE FUNCTION deals_reserve_units();

CREATE OR REPLACE FUNCTION release_expired_holds(p_now timestamptz) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    released bigint;
BEGIN
    WITH lapsed AS (
        UPDATE unit_holds SET released_at = p_now, release_reason = 'EXPIRED'
         WHERE released_at IS NULL AND reserved_at IS NULL AND expires_at <= p_now
        RETURNING tenant_id, unit_id
    ), freed AS (
        UPDATE units u SET status = 'AVAILABLE', version = u.version + 1, updated_at = p_now
          FROM lapsed l
         WHERE u.tenant_id = l.tenant_id AND u.id = l.unit_id AND u.status = 'HELD'
        RETURNING 1
    )
    SELECT count(*) INTO released FROM lapsed;
    RETURN released;
END $$;

CREATE OR REPLACE FUNCTION remind_lapsing_holds(p_now timestamptz) RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH due AS (
        UPDATE unit_holds h SET reminded_at = p_now
         WHERE h.released_at IS NULL AND h.reserved_at IS NULL AND h.reminded_at IS NULL
           AND h.expires_at > p_now
           AND h.expires_at <= p_now + make_interval(hours => coalesce(
                   (SELECT tp.hold_reminder_hours FROM tenant_policies tp WHERE tp.tenant_id = h.tenant_id), 6))
        RETURNING h.tenant_id, h.held_by, h.unit_id, h.deal_id, h.expires_at
    ), told AS (
        INSERT INTO notifications (tenant_id, id, user_id, kind, body, link)
        SELECT d.tenant_id, gen_random_uuid(), d.held_by, 'HOLD_EXPIRING',
               'Hold on ' || u.code || ' for ' || left(dl.name, 150) || ' ends '
                   || to_char(d.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC',
               '/inventory/units/' || d.unit_id
          FROM due d
          JOIN units u ON u.tenant_id = d.tenant_id AND u.id = d.unit_id
          JOIN deals dl ON dl.tenant_id = d.tenant_id AND dl.id = d.deal_id
          JOIN memberships m ON m.tenant_id = d.tenant_id AND m.user_id = d.held_by AND m.status = 'ACTIVE'
        RETURNING 1
    )
    SELECT count(*) FROM told
$$;

-- What a unit is made of (seed 004's unit components): rooms, kitchens and balconies
-- with their measurements, typed by the COMPONENT codes of the dictionary.
CREATE TABLE unit_components (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id         uuid NOT NULL,
    unit_id    uuid NOT NULL,
    type_code  text NOT NULL CHECK (type_code ~ '^[A-Z][A-Z0-9_]{1,39}$'),
    label      text NOT NULL CHECK (length(label) BETWEEN 1 AND 60),
    length_m   numeric(8, 2) CHECK (length_m > 0 AND length_m < 1000),
    width_m    numeric(8, 2) CHECK (width_m > 0 AND width_m < 1000),
    area_sqm   numeric(10, 2) CHECK (area_sqm > 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, unit_id) REFERENCES units (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX unit_components_unit ON unit_components (tenant_id, unit_id, created_at);
ALTER TABLE unit_components ENABLE ROW LEVEL SECURITY;
ALTER TABLE unit_components FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON unit_components USING (tenant_id = (SELECT app_tenant()))
    WITH CHECK (tenant_id = (SELECT app_tenant()));

-- Permissions a member holds beyond their role. Today one: `inventory`, given by an
-- admin to whoever draws plans and keeps the inventory's set-up (often a manager).
ALTER TABLE memberships ADD COLUMN grants text[] NOT NULL DEFAULT '{}'
    CHECK (grants <@ ARRAY['inventory']::text[]);
