-- CRM core: companies, contacts, leads, pipelines and stages, deals, one activity
-- timeline (tasks included), lists, custom fields, evidence and reports, and the
-- background jobs that import and export CSV.
--
-- The tenancy rules of 0001 hold for every table here: tenant_id first in every key
-- and index, composite foreign keys, RLS enabled and forced (loop at the end).

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Text the search box matches: names, emails, phones, company. Lower-cased and with
-- Arabic diacritics (tashkeel) and tatweel removed, so "مُحَمَّد" finds "محمد".
CREATE FUNCTION search_norm(text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT lower(regexp_replace(coalesce($1, ''), '[\u064B-\u065F\u0640\u0670]', '', 'g')) $$;

-- Digits after the decimal point of a currency (ISO 4217); amounts are stored in
-- minor units. Mirrors app/src/crm/money.rs.
CREATE FUNCTION currency_exponent(text) RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT CASE WHEN $1 IN ('JPY', 'KRW', 'VND', 'CLP', 'ISK', 'UGX', 'XAF', 'XOF') THEN 0
               WHEN $1 IN ('KWD', 'BHD', 'OMR', 'JOD', 'TND', 'IQD', 'LYD') THEN 3
               ELSE 2 END $$;

CREATE TABLE companies (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id         uuid NOT NULL,
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    domain     text,
    industry   text,
    city       text,
    country    text,
    phone_e164 text,
    owner_id   uuid,
    tags       text[] NOT NULL DEFAULT '{}',
    custom     jsonb NOT NULL DEFAULT '{}',
    search     text GENERATED ALWAYS AS (search_norm(name || ' ' || coalesce(domain, '') || ' ' || coalesce(phone_e164, ''))) STORED,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, owner_id) REFERENCES memberships (tenant_id, user_id)
);
CREATE INDEX companies_page ON companies (tenant_id, name, id);
CREATE INDEX companies_recent ON companies (tenant_id, created_at DESC, id DESC);
CREATE INDEX companies_owner ON companies (tenant_id, owner_id);
CREATE INDEX companies_search ON companies USING gin (search gin_trgm_ops);

CREATE TABLE contacts (
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id           uuid NOT NULL,
    company_id   uuid,
    full_name    text NOT NULL CHECK (length(full_name) BETWEEN 1 AND 200),
    email        citext CHECK (email IS NULL OR length(email) BETWEEN 3 AND 254),
    phone_e164   text CHECK (phone_e164 IS NULL OR phone_e164 ~ '^\+[1-9][0-9]{6,14}$'),
    title        text,
    owner_id     uuid,
    tags         text[] NOT NULL DEFAULT '{}',
    custom       jsonb NOT NULL DEFAULT '{}',
    search       text GENERATED ALWAYS AS (search_norm(full_name || ' ' || coalesce(email::text, '') || ' ' || coalesce(phone_e164, ''))) STORED,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, company_id) REFERENCES companies (tenant_id, id) ON DELETE SET NULL (company_id),
    FOREIGN KEY (tenant_id, owner_id) REFERENCES memberships (tenant_id, user_id)
);
CREATE UNIQUE INDEX contacts_email ON contacts (tenant_id, email) WHERE email IS NOT NULL;
CREATE INDEX contacts_phone ON contacts (tenant_id, phone_e164) WHERE phone_e164 IS NOT NULL;
CREATE INDEX contacts_page ON contacts (tenant_id, full_name, id);
CREATE INDEX contacts_recent ON contacts (tenant_id, created_at DESC, id DESC);
CREATE INDEX contacts_company ON contacts (tenant_id, company_id);
CREATE INDEX contacts_owner ON contacts (tenant_id, owner_id, full_name, id);
CREATE INDEX contacts_search ON contacts USING gin (search gin_trgm_ops);

CREATE TABLE leads (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id         uuid NOT NULL,
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    contact_id uuid,
    company_id uuid,
    owner_id   uuid,
    source     text,
    status     text NOT NULL DEFAULT 'NEW'
               CHECK (status IN ('NEW', 'PROSPECTED', 'CONTACTED', 'QUALIFIED', 'LOST')),
    score      integer NOT NULL DEFAULT 0 CHECK (score BETWEEN 0 AND 100),
    email      citext,
    phone_e164 text CHECK (phone_e164 IS NULL OR phone_e164 ~ '^\+[1-9][0-9]{6,14}$'),
    tags       text[] NOT NULL DEFAULT '{}',
    custom     jsonb NOT NULL DEFAULT '{}',
    enrichment jsonb NOT NULL DEFAULT '{}',
    search     text GENERATED ALWAYS AS (search_norm(name || ' ' || coalesce(email::text, '') || ' ' || coalesce(phone_e164, ''))) STORED,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id) ON DELETE SET NULL (contact_id),
    FOREIGN KEY (tenant_id, company_id) REFERENCES companies (tenant_id, id) ON DELETE SET NULL (company_id),
    FOREIGN KEY (tenant_id, owner_id) REFERENCES memberships (tenant_id, user_id)
);
CREATE INDEX leads_recent ON leads (tenant_id, created_at DESC, id DESC);
CREATE INDEX leads_page ON leads (tenant_id, name, id);
CREATE INDEX leads_status ON leads (tenant_id, status, created_at DESC);
CREATE INDEX leads_owner ON leads (tenant_id, owner_id, created_at DESC);
CREATE INDEX leads_email ON leads (tenant_id, email) WHERE email IS NOT NULL;
CREATE INDEX leads_phone ON leads (tenant_id, phone_e164) WHERE phone_e164 IS NOT NULL;
CREATE INDEX leads_search ON leads USING gin (search gin_trgm_ops);

CREATE TABLE pipelines (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id         uuid NOT NULL,
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    position   integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, name)
);

CREATE TABLE stages (
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          uuid NOT NULL,
    pipeline_id uuid NOT NULL,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 60),
    position    integer NOT NULL,
    color       text NOT NULL DEFAULT '#6366f1' CHECK (color ~ '^#[0-9a-fA-F]{6}$'),
    kind        text NOT NULL DEFAULT 'OPEN' CHECK (kind IN ('OPEN', 'WON', 'LOST')),
    probability integer NOT NULL DEFAULT 0 CHECK (probability BETWEEN 0 AND 100),
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, pipeline_id, id),
    UNIQUE (tenant_id, pipeline_id, position) DEFERRABLE INITIALLY DEFERRED,
    FOREIGN KEY (tenant_id, pipeline_id) REFERENCES pipelines (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE deals (
    tenant_id         uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id                uuid NOT NULL,
    pipeline_id       uuid NOT NULL,
    stage_id          uuid NOT NULL,
    name              text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    amount_minor      bigint NOT NULL DEFAULT 0 CHECK (amount_minor >= 0),
    currency          char(3) NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
    probability       integer NOT NULL DEFAULT 0 CHECK (probability BETWEEN 0 AND 100),
    expected_close_on date,
    owner_id          uuid,
    contact_id        uuid,
    company_id        uuid,
    lead_id           uuid,
    status            text NOT NULL DEFAULT 'OPEN' CHECK (status IN ('OPEN', 'WON', 'LOST')),
    lost_reason       text,
    -- Order inside the stage: cards sort by (position, id). A move takes the midpoint
    -- of its new neighbours, so it rewrites one row, not the column.
    position          double precision NOT NULL,
    tags              text[] NOT NULL DEFAULT '{}',
    custom            jsonb NOT NULL DEFAULT '{}',
    version           integer NOT NULL DEFAULT 1,
    search            text GENERATED ALWAYS AS (search_norm(name)) STORED,
    stage_entered_at  timestamptz NOT NULL DEFAULT now(),
    closed_at         timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    CHECK (status <> 'LOST' OR lost_reason IS NOT NULL),
    FOREIGN KEY (tenant_id, pipeline_id, stage_id) REFERENCES stages (tenant_id, pipeline_id, id),
    FOREIGN KEY (tenant_id, owner_id) REFERENCES memberships (tenant_id, user_id),
    FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id) ON DELETE SET NULL (contact_id),
    FOREIGN KEY (tenant_id, company_id) REFERENCES companies (tenant_id, id) ON DELETE SET NULL (company_id),
    FOREIGN KEY (tenant_id, lead_id) REFERENCES leads (tenant_id, id) ON DELETE SET NULL (lead_id)
);
-- The board: one keyset walk per column.
CREATE INDEX deals_column ON deals (tenant_id, stage_id, position, id)
    INCLUDE (currency, amount_minor, owner_id);
CREATE INDEX deals_owner_column ON deals (tenant_id, owner_id, stage_id, position, id);
CREATE INDEX deals_contact ON deals (tenant_id, contact_id) WHERE contact_id IS NOT NULL;
CREATE INDEX deals_company ON deals (tenant_id, company_id) WHERE company_id IS NOT NULL;
CREATE INDEX deals_lead ON deals (tenant_id, lead_id) WHERE lead_id IS NOT NULL;
CREATE INDEX deals_closed ON deals (tenant_id, closed_at) WHERE closed_at IS NOT NULL;
CREATE INDEX deals_search ON deals USING gin (search gin_trgm_ops);

-- One timeline for everything that happens to a lead, contact, company or deal.
-- Tasks are activities with a due date; done_at closes them.
CREATE TABLE activities (
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          uuid NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('NOTE', 'CALL', 'EMAIL', 'WHATSAPP', 'MEETING', 'TASK',
                                              'STAGE_CHANGE', 'STATUS_CHANGE', 'ASSIGNMENT',
                                              'CREATED', 'LIST_ADD', 'LIST_REMOVE', 'IMPORTED')),
    lead_id     uuid,
    contact_id  uuid,
    company_id  uuid,
    deal_id     uuid,
    actor_id    uuid REFERENCES users (id),
    assignee_id uuid,
    subject     text,
    body        text,
    data        jsonb NOT NULL DEFAULT '{}',
    due_at      timestamptz,
    done_at     timestamptz,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    CHECK (num_nonnulls(lead_id, contact_id, company_id, deal_id) >= 1),
    CHECK (kind = 'TASK' OR due_at IS NULL),
    FOREIGN KEY (tenant_id, lead_id) REFERENCES leads (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, company_id) REFERENCES companies (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, deal_id) REFERENCES deals (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, assignee_id) REFERENCES memberships (tenant_id, user_id)
);
CREATE INDEX activities_lead ON activities (tenant_id, lead_id, occurred_at DESC, id DESC) WHERE lead_id IS NOT NULL;
CREATE INDEX activities_contact ON activities (tenant_id, contact_id, occurred_at DESC, id DESC) WHERE contact_id IS NOT NULL;
CREATE INDEX activities_company ON activities (tenant_id, company_id, occurred_at DESC, id DESC) WHERE company_id IS NOT NULL;
CREATE INDEX activities_deal ON activities (tenant_id, deal_id, occurred_at DESC, id DESC) WHERE deal_id IS NOT NULL;
CREATE INDEX activities_open_tasks ON activities (tenant_id, assignee_id, due_at) WHERE kind = 'TASK' AND done_at IS NULL;
CREATE INDEX activities_by_actor ON activities (tenant_id, occurred_at, actor_id);

-- Static lists hold members; smart lists hold a saved filter and re-evaluate.
CREATE TABLE lists (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id         uuid NOT NULL,
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    entity     text NOT NULL CHECK (entity IN ('LEAD', 'CONTACT', 'COMPANY', 'DEAL')),
    kind       text NOT NULL CHECK (kind IN ('STATIC', 'SMART')),
    filter     jsonb NOT NULL DEFAULT '{}',
    owner_id   uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, entity, name),
    FOREIGN KEY (tenant_id, owner_id) REFERENCES memberships (tenant_id, user_id)
);

CREATE TABLE list_members (
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    list_id   uuid NOT NULL,
    record_id uuid NOT NULL,
    added_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, list_id, record_id),
    FOREIGN KEY (tenant_id, list_id) REFERENCES lists (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE custom_fields (
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id        uuid NOT NULL,
    entity    text NOT NULL CHECK (entity IN ('LEAD', 'CONTACT', 'COMPANY', 'DEAL')),
    key       text NOT NULL CHECK (key ~ '^[a-z][a-z0-9_]{0,39}$'),
    label     text NOT NULL CHECK (length(label) BETWEEN 1 AND 80),
    kind      text NOT NULL CHECK (kind IN ('TEXT', 'NUMBER', 'DATE', 'SELECT')),
    options   text[] NOT NULL DEFAULT '{}',
    required  boolean NOT NULL DEFAULT false,
    position  integer NOT NULL DEFAULT 0,
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, entity, key),
    CHECK (kind <> 'SELECT' OR cardinality(options) > 0)
);

-- Seed 001: sources attached to a lead, and a report whose sections cite them.
CREATE TABLE evidence (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id         uuid NOT NULL,
    lead_id    uuid NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('WEBSITE', 'SOCIAL', 'NEWS', 'REVIEWS', 'GOVERNMENT', 'FINANCIAL', 'CUSTOM')),
    url        text,
    title      text NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
    excerpt    text,
    confidence real NOT NULL DEFAULT 0.5 CHECK (confidence BETWEEN 0 AND 1),
    created_by uuid REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, lead_id) REFERENCES leads (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX evidence_lead ON evidence (tenant_id, lead_id, created_at DESC);

CREATE TABLE reports (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id         uuid NOT NULL,
    lead_id    uuid NOT NULL,
    title      text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    -- [{"heading": "...", "body": "...", "evidence_ids": ["..."]}]
    sections   jsonb NOT NULL DEFAULT '[]',
    author_id  uuid REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, lead_id) REFERENCES leads (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX reports_lead ON reports (tenant_id, lead_id, created_at DESC);

-- Background work a user started (CSV import and export). Files live in job_files so
-- any server of a scaled-out deployment can serve them.
CREATE TABLE jobs (
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          uuid NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('IMPORT', 'EXPORT')),
    entity      text NOT NULL CHECK (entity IN ('LEAD', 'CONTACT', 'COMPANY', 'DEAL')),
    status      text NOT NULL DEFAULT 'QUEUED' CHECK (status IN ('QUEUED', 'RUNNING', 'DONE', 'FAILED')),
    params      jsonb NOT NULL DEFAULT '{}',
    total       integer NOT NULL DEFAULT 0,
    processed   integer NOT NULL DEFAULT 0,
    result      jsonb NOT NULL DEFAULT '{}',
    error       text,
    created_by  uuid NOT NULL,
    locked_at   timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, created_by) REFERENCES memberships (tenant_id, user_id)
);
CREATE INDEX jobs_queue ON jobs (created_at) WHERE status = 'QUEUED';
CREATE INDEX jobs_recent ON jobs (tenant_id, created_at DESC);

CREATE TABLE job_files (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    job_id     uuid NOT NULL,
    name       text NOT NULL CHECK (name IN ('input', 'output', 'errors')),
    content    bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, job_id, name),
    FOREIGN KEY (tenant_id, job_id) REFERENCES jobs (tenant_id, id) ON DELETE CASCADE
);

-- The last column mapping a member used for an import, per entity.
CREATE TABLE import_mappings (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL,
    entity     text NOT NULL CHECK (entity IN ('LEAD', 'CONTACT', 'COMPANY', 'DEAL')),
    mapping    jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_id, entity),
    FOREIGN KEY (tenant_id, user_id) REFERENCES memberships (tenant_id, user_id) ON DELETE CASCADE
);

-- Whether SALES members also see records nobody owns yet.
ALTER TABLE tenant_policies ADD COLUMN sales_see_unassigned boolean NOT NULL DEFAULT true;

-- Seed 002's five stages, for a new tenant (called inside its creating transaction, so
-- RLS checks the rows like any other insert).
CREATE FUNCTION crm_default_pipeline(p_tenant uuid, p_name text) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE pid uuid := gen_random_uuid();
BEGIN
    INSERT INTO pipelines (tenant_id, id, name) VALUES (p_tenant, pid, p_name);
    INSERT INTO stages (tenant_id, id, pipeline_id, name, position, color, kind, probability)
    SELECT p_tenant, gen_random_uuid(), pid, s.name, s.position, s.color, s.kind, s.probability
      FROM (VALUES ('Lead', 1, '#ef4444', 'OPEN', 10),
                   ('Contact', 2, '#f97316', 'OPEN', 25),
                   ('Proposal', 3, '#eab308', 'OPEN', 50),
                   ('Negotiation', 4, '#22c55e', 'OPEN', 75),
                   ('Closed', 5, '#6366f1', 'WON', 100),
                   -- Not in seed 002: without a LOST stage a lost deal has nowhere to go.
                   ('Lost', 6, '#64748b', 'LOST', 0)) AS s (name, position, color, kind, probability);
    RETURN pid;
END $$;

-- Board moves reach other open boards through LISTEN/NOTIFY (payload: tenant, pipeline,
-- deal). Only ids travel; each listener re-reads what its viewer may see.
CREATE FUNCTION deals_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('deal_changes', json_build_object(
        't', NEW.tenant_id, 'p', NEW.pipeline_id, 'd', NEW.id, 'v', NEW.version)::text);
    RETURN NULL;
END $$;
CREATE TRIGGER deals_changed AFTER INSERT OR UPDATE ON deals
    FOR EACH ROW EXECUTE FUNCTION deals_notify();

DO $$
DECLARE t text;
BEGIN
    FOR t IN SELECT unnest(ARRAY['companies', 'contacts', 'leads', 'pipelines', 'stages', 'deals',
                                 'activities', 'lists', 'list_members', 'custom_fields', 'evidence',
                                 'reports', 'jobs', 'job_files', 'import_mappings'])
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = (SELECT app_tenant())) '
                       'WITH CHECK (tenant_id = (SELECT app_tenant()))', t);
    END LOOP;
END $$;

-- Job runners serve every tenant, so they claim the next job through this function
-- (owned by the migrating role, which alone may read the queue past RLS); the job's
-- work then runs in a transaction scoped to the job's tenant like any request.
CREATE POLICY definer_queue ON jobs TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE FUNCTION claim_job() RETURNS TABLE (tenant_id uuid, id uuid)
LANGUAGE sql SECURITY DEFINER SET search_path = public AS $$
    UPDATE jobs j SET status = 'RUNNING', locked_at = now()
     WHERE j.id = (SELECT q.id FROM jobs q
                    WHERE q.status = 'QUEUED'
                       -- a runner that died mid-job: take it over after 10 minutes
                       OR (q.status = 'RUNNING' AND q.locked_at < now() - interval '10 minutes')
                    ORDER BY q.created_at FOR UPDATE SKIP LOCKED LIMIT 1)
    RETURNING j.tenant_id, j.id
$$;
REVOKE ALL ON FUNCTION claim_job() FROM PUBLIC;

-- Phone numbers typed without a country code are read as this country's (ISO 3166
-- alpha-2); without it they must be international.
ALTER TABLE tenants ADD COLUMN phone_region text CHECK (phone_region ~ '^[A-Z]{2}$');
