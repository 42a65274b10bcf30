-- Inventory (seed 004): developers, projects, unit types, units with their price
-- history and holds, and floor plans with shapes linked to units. Shapes are GeoJSON
-- in JSONB in the plan's pixel space; area and perimeter are computed by the server
-- (DECISIONS 37).

CREATE TABLE developers (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id         uuid NOT NULL,
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, name)
);

CREATE TABLE projects (
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id           uuid NOT NULL,
    developer_id uuid,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    location     text CHECK (length(location) <= 300),
    status       text NOT NULL DEFAULT 'SELLING' CHECK (status IN ('PLANNED', 'SELLING', 'SOLD_OUT', 'DELIVERED')),
    description  text CHECK (length(description) <= 5000),
    delivery_on  date,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, name),
    FOREIGN KEY (tenant_id, developer_id) REFERENCES developers (tenant_id, id)
);

-- Unit and component types: a global catalogue every tenant reads (no tenant_id,
-- read-only for the runtime role), and each tenant's own codes beside it.
CREATE TABLE unit_type_catalog (
    code  text PRIMARY KEY CHECK (code ~ '^[A-Z][A-Z0-9_]{1,39}$'),
    label text NOT NULL CHECK (length(label) BETWEEN 1 AND 100),
    kind  text NOT NULL CHECK (kind IN ('UNIT', 'COMPONENT'))
);
INSERT INTO unit_type_catalog (code, label, kind) VALUES
    ('APT_1BR', 'Apartment, 1 bedroom', 'UNIT'),
    ('APT_2BR', 'Apartment, 2 bedrooms', 'UNIT'),
    ('APT_3BR', 'Apartment, 3 bedrooms', 'UNIT'),
    ('VILLA_4BR', 'Villa, 4 bedrooms', 'UNIT'),
    ('ROOM_BED', 'Bedroom', 'COMPONENT'),
    ('ROOM_BATH', 'Bathroom', 'COMPONENT'),
    ('KITCHEN_STD', 'Kitchen', 'COMPONENT'),
    ('BALCONY_STD', 'Balcony', 'COMPONENT');

CREATE TABLE unit_types (
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    code      text NOT NULL CHECK (code ~ '^[A-Z][A-Z0-9_]{1,39}$'),
    label     text NOT NULL CHECK (length(label) BETWEEN 1 AND 100),
    kind      text NOT NULL CHECK (kind IN ('UNIT', 'COMPONENT')),
    PRIMARY KEY (tenant_id, code)
);

CREATE TABLE units (
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          uuid NOT NULL,
    project_id  uuid NOT NULL,
    code        text NOT NULL CHECK (length(code) BETWEEN 1 AND 40),
    type_code   text NOT NULL,
    building    text CHECK (length(building) <= 40),
    floor       integer CHECK (floor BETWEEN -5 AND 200),
    size_sqm    numeric(10, 2) CHECK (size_sqm > 0),
    bedrooms    integer NOT NULL DEFAULT 0 CHECK (bedrooms BETWEEN 0 AND 50),
    bathrooms   integer NOT NULL DEFAULT 0 CHECK (bathrooms BETWEEN 0 AND 50),
    view        text CHECK (length(view) <= 60),
    price_minor bigint NOT NULL CHECK (price_minor >= 0),
    currency    char(3) NOT NULL DEFAULT 'EGP' CHECK (currency ~ '^[A-Z]{3}$'),
    status      text NOT NULL DEFAULT 'AVAILABLE'
                CHECK (status IN ('AVAILABLE', 'HELD', 'RESERVED', 'SOLD', 'BLOCKED')),
    version     integer NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, project_id, code),
    FOREIGN KEY (tenant_id, project_id) REFERENCES projects (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX units_list ON units (tenant_id, project_id, code, id);
CREATE INDEX units_status ON units (tenant_id, status);

-- Every price a unit had, written in the transaction that changes it.
CREATE TABLE unit_price_history (
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          uuid NOT NULL,
    unit_id     uuid NOT NULL,
    price_minor bigint NOT NULL CHECK (price_minor >= 0),
    currency    char(3) NOT NULL,
    changed_by  uuid,
    reason      text CHECK (length(reason) <= 200),
    changed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    FOREIGN KEY (tenant_id, unit_id) REFERENCES units (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX unit_price_history_unit ON unit_price_history (tenant_id, unit_id, changed_at);

-- A unit held for a deal. At most one live hold per unit, by this index: of any number
-- of concurrent holds exactly one is written.
CREATE TABLE unit_holds (
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          uuid NOT NULL,
    unit_id     uuid NOT NULL,
    deal_id     uuid NOT NULL,
    held_by     uuid NOT NULL,
    expires_at  timestamptz NOT NULL,
    released_at timestamptz,
    release_reason text CHECK (release_reason IN ('RELEASED', 'EXPIRED', 'DEAL_LOST', 'SOLD')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, unit_id) REFERENCES units (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, deal_id) REFERENCES deals (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, held_by) REFERENCES memberships (tenant_id, user_id)
);
CREATE UNIQUE INDEX unit_holds_live ON unit_holds (tenant_id, unit_id) WHERE released_at IS NULL;
CREATE INDEX unit_holds_deal ON unit_holds (tenant_id, deal_id) WHERE released_at IS NULL;
CREATE INDEX unit_holds_expiry ON unit_holds (expires_at) WHERE released_at IS NULL;

-- A floor or site plan: its size in pixels, and its scale once a member has drawn a
-- line of known length.
CREATE TABLE floor_plans (
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id            uuid NOT NULL,
    project_id    uuid NOT NULL,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    width_px      integer NOT NULL CHECK (width_px BETWEEN 1 AND 20000),
    height_px     integer NOT NULL CHECK (height_px BETWEEN 1 AND 20000),
    meters_per_px double precision CHECK (meters_per_px > 0),
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, project_id) REFERENCES projects (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE map_shapes (
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          uuid NOT NULL,
    plan_id     uuid NOT NULL,
    unit_id     uuid,
    label       text CHECK (length(label) <= 60),
    -- A GeoJSON Polygon, coordinates in the plan's pixels.
    geometry    jsonb NOT NULL CHECK (geometry->>'type' = 'Polygon'),
    area_sqm    double precision,
    perimeter_m double precision,
    version     integer NOT NULL DEFAULT 1,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, plan_id) REFERENCES floor_plans (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, unit_id) REFERENCES units (tenant_id, id) ON DELETE SET NULL (unit_id)
);
CREATE INDEX map_shapes_plan ON map_shapes (tenant_id, plan_id);
CREATE UNIQUE INDEX map_shapes_unit ON map_shapes (tenant_id, plan_id, unit_id) WHERE unit_id IS NOT NULL;

DO $$
DECLARE t text;
BEGIN
    FOR t IN SELECT unnest(ARRAY['developers', 'projects', 'unit_types', 'units', 'unit_price_history',
                                 'unit_holds', 'floor_plans', 'map_shapes'])
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = (SELECT app_tenant())) '
                       'WITH CHECK (tenant_id = (SELECT app_tenant()))', t);
    END LOOP;
END $$;
CREATE POLICY definer_holds ON unit_holds TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY definer_holds ON units TO CURRENT_USER USING (true) WITH CHECK (true);

-- A deal's outcome moves its held units, whichever path closed it (board, page,
-- import): WON sells them, LOST releases them.
CREATE FUNCTION deals_settle_units() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'WON' THEN
        UPDATE units u SET status = 'SOLD', version = u.version + 1, updated_at = now()
          FROM unit_holds h
         WHERE h.tenant_id = NEW.tenant_id AND h.deal_id = NEW.id AND h.released_at IS NULL
           AND u.tenant_id = h.tenant_id AND u.id = h.unit_id;
        UPDATE unit_holds SET released_at = now(), release_reason = 'SOLD'
         WHERE tenant_id = NEW.tenant_id AND deal_id = NEW.id AND released_at IS NULL;
    ELSIF NEW.status = 'LOST' THEN
        UPDATE units u SET status = 'AVAILABLE', version = u.version + 1, updated_at = now()
          FROM unit_holds h
         WHERE h.tenant_id = NEW.tenant_id AND h.deal_id = NEW.id AND h.released_at IS NULL
           AND u.tenant_id = h.tenant_id AND u.id = h.unit_id AND u.status IN ('HELD', 'RESERVED');
        UPDATE unit_holds SET released_at = now(), release_reason = 'DEAL_LOST'
         WHERE tenant_id = NEW.tenant_id AND deal_id = NEW.id AND released_at IS NULL;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER deals_settle_units AFTER UPDATE OF status ON deals
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION deals_settle_units();

-- Lapsed holds go back on sale, across tenants (the worker's `inventory.holds`
-- schedule). `p_now` lets tests move the clock.
CREATE FUNCTION release_expired_holds(p_now timestamptz) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    released bigint;
BEGIN
    WITH lapsed AS (
        UPDATE unit_holds SET released_at = p_now, release_reason = 'EXPIRED'
         WHERE released_at IS NULL AND expires_at <= p_now
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
REVOKE ALL ON FUNCTION release_expired_holds(timestamptz) FROM PUBLIC;

ALTER TABLE tenant_policies ADD COLUMN hold_hours integer NOT NULL DEFAULT 48 CHECK (hold_hours BETWEEN 1 AND 720);

INSERT INTO schedules (name, cron) VALUES ('inventory.holds', '0 * * * * *');
