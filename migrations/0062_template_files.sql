-- Issue 15: files that go with a template. A WhatsApp template carries one, its header
-- (an image or a document); an email template carries attachments. The bytes live in
-- the file store (the inventory's), under the tenant's prefix; these rows say what
-- and where.

CREATE TABLE template_files (
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id           uuid NOT NULL,
    template_id  uuid NOT NULL,
    -- As the member named it; sent as the attachment's or document's file name.
    file_name    text NOT NULL CHECK (length(file_name) BETWEEN 1 AND 200),
    -- Sniffed from the bytes at upload, never taken from the name or the request.
    content_type text NOT NULL CHECK (content_type IN (
                     'application/pdf', 'image/png', 'image/jpeg',
                     'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
                     'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
                     'application/vnd.openxmlformats-officedocument.presentationml.presentation')),
    byte_size    integer NOT NULL CHECK (byte_size > 0),
    -- Hex SHA-256 of the bytes: what a recipient can check the delivery against.
    sha256       text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    file_key     text NOT NULL,
    created_by   uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, template_id) REFERENCES templates (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX template_files_template ON template_files (tenant_id, template_id, created_at);
ALTER TABLE template_files ENABLE ROW LEVEL SECURITY;
ALTER TABLE template_files FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON template_files USING (tenant_id = (SELECT app_tenant()))
    WITH CHECK (tenant_id = (SELECT app_tenant()));

-- A header file uploaded to a number's WhatsApp API (`POST /{phone}/media`) answers a
-- media id the sends then name. Meta keeps uploaded media for 30 days; the dispatcher
-- reuses an id for 7 (DECISIONS 87), so a file goes up once a week per number, not
-- once per message.
CREATE TABLE wa_media_uploads (
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    phone_id    uuid NOT NULL,
    file_id     uuid NOT NULL,
    -- The API the id belongs to: a number switched to another provider uploads again.
    provider    text NOT NULL CHECK (provider IN ('META_CLOUD', 'DIALOG360')),
    media_id    text NOT NULL CHECK (length(media_id) BETWEEN 1 AND 200),
    uploaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, phone_id, file_id, provider),
    FOREIGN KEY (tenant_id, phone_id) REFERENCES wa_phone_numbers (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, file_id) REFERENCES template_files (tenant_id, id) ON DELETE CASCADE
);
ALTER TABLE wa_media_uploads ENABLE ROW LEVEL SECURITY;
ALTER TABLE wa_media_uploads FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON wa_media_uploads USING (tenant_id = (SELECT app_tenant()))
    WITH CHECK (tenant_id = (SELECT app_tenant()));
