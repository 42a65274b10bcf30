-- The public API lists every object newest first or by last change (`sort=updated_at`
-- is how a client syncs), keyset-paged on (column, id) within the tenant: these are the
-- indexes those orders walk.
CREATE INDEX contacts_changed ON contacts (tenant_id, updated_at DESC, id DESC);
CREATE INDEX companies_changed ON companies (tenant_id, updated_at DESC, id DESC);
CREATE INDEX leads_changed ON leads (tenant_id, updated_at DESC, id DESC);
CREATE INDEX deals_recent ON deals (tenant_id, created_at DESC, id DESC);
CREATE INDEX deals_changed ON deals (tenant_id, updated_at DESC, id DESC);
CREATE INDEX activities_recent ON activities (tenant_id, occurred_at DESC, id DESC);
CREATE INDEX messages_recent ON messages (tenant_id, created_at DESC, id DESC);
CREATE INDEX enrollments_recent ON enrollments (tenant_id, created_at DESC, id DESC);
CREATE INDEX unit_holds_recent ON unit_holds (tenant_id, created_at DESC, id DESC);
