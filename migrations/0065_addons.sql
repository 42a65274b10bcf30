-- Issue 13: add-ons (seed 003). Extra seats and extra WhatsApp numbers are bought by
-- the unit on top of the plan's limit and renew with it; a message pack adds to one
-- UTC month's cap on one channel, once. The catalogue is global and, like plans,
-- read-only to the runtime role; what a workspace bought is its own, under RLS.

CREATE TABLE addons (
    id            text PRIMARY KEY CHECK (id ~ '^[a-z][a-z0-9_]{1,39}$'),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 80),
    names         jsonb NOT NULL DEFAULT '{}',
    -- The limit it lifts (`billing::model::Metric`).
    metric        text NOT NULL CHECK (metric IN ('Seats', 'WhatsAppNumbers', 'WhatsAppMessages',
                                                  'EmailMessages')),
    -- How much of the metric one unit adds.
    unit_quantity integer NOT NULL CHECK (unit_quantity > 0),
    -- Renews each period (seats, numbers), or counts for the month it is bought in (packs).
    recurring     boolean NOT NULL,
    -- The most units a workspace holds (recurring) or buys at once (packs).
    max_units     integer NOT NULL CHECK (max_units > 0),
    sort_order    integer NOT NULL DEFAULT 0,
    CHECK (recurring = (metric IN ('Seats', 'WhatsAppNumbers')))
);

-- A recurring add-on's price is per unit and month (a yearly cycle pays ten months, as
-- plans do); a pack's is per pack.
CREATE TABLE addon_prices (
    addon_id     text NOT NULL REFERENCES addons (id) ON DELETE CASCADE,
    currency     char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    amount_minor bigint NOT NULL CHECK (amount_minor > 0),
    PRIMARY KEY (addon_id, currency)
);

INSERT INTO addons (id, name, names, metric, unit_quantity, recurring, max_units, sort_order) VALUES
    ('extra_seat', 'Extra seats',
     '{"en": "Extra seats", "ar": "مقاعد إضافية", "pt": "Assentos extras", "ro": "Locuri suplimentare"}',
     'Seats', 1, true, 200, 1),
    ('extra_wa_number', 'Extra WhatsApp numbers',
     '{"en": "Extra WhatsApp numbers", "ar": "أرقام واتساب إضافية", "pt": "Números de WhatsApp extras", "ro": "Numere WhatsApp suplimentare"}',
     'WhatsAppNumbers', 1, true, 50, 2),
    ('wa_pack', 'WhatsApp message pack',
     '{"en": "WhatsApp message pack", "ar": "باقة رسائل واتساب", "pt": "Pacote de mensagens de WhatsApp", "ro": "Pachet de mesaje WhatsApp"}',
     'WhatsAppMessages', 1000, false, 20, 3),
    ('email_pack', 'Email pack',
     '{"en": "Email pack", "ar": "باقة رسائل بريد", "pt": "Pacote de e-mails", "ro": "Pachet de emailuri"}',
     'EmailMessages', 10000, false, 20, 4);

INSERT INTO addon_prices (addon_id, currency, amount_minor)
SELECT a.id, m.currency, m.amount
  FROM (VALUES ('extra_seat', 1), ('extra_wa_number', 2), ('wa_pack', 3), ('email_pack', 1)) AS a (id, tier),
       LATERAL (VALUES ('USD', a.tier * 900), ('SAR', a.tier * 3400), ('EGP', a.tier * 45000),
                       ('BRL', a.tier * 4500), ('RON', a.tier * 4200)) AS m (currency, amount);

-- The recurring add-ons a workspace holds. A row with 0 units is deleted instead.
CREATE TABLE subscription_addons (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    addon_id   text NOT NULL REFERENCES addons (id),
    units      integer NOT NULL CHECK (units > 0),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, addon_id)
);
ALTER TABLE subscription_addons ENABLE ROW LEVEL SECURITY;
ALTER TABLE subscription_addons FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON subscription_addons USING (tenant_id = (SELECT app_tenant()))
    WITH CHECK (tenant_id = (SELECT app_tenant()));

-- Packs bought: each raises its channel's cap for the month it was bought in.
CREATE TABLE message_packs (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id         uuid NOT NULL,
    addon_id   text NOT NULL REFERENCES addons (id),
    metric     text NOT NULL CHECK (metric IN ('WhatsAppMessages', 'EmailMessages')),
    messages   integer NOT NULL CHECK (messages > 0),
    -- The first day of the UTC month whose cap it raises.
    period     date NOT NULL CHECK (extract(day FROM period) = 1),
    invoice_id uuid NOT NULL,
    created_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id)
);
CREATE INDEX message_packs_period ON message_packs (tenant_id, metric, period);
ALTER TABLE message_packs ENABLE ROW LEVEL SECURITY;
ALTER TABLE message_packs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON message_packs USING (tenant_id = (SELECT app_tenant()))
    WITH CHECK (tenant_id = (SELECT app_tenant()));

