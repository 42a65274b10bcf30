-- Issue 15: the workspace chooses the digits its Arabic pages show: Latin (CLDR
-- `latn`, 0123, the default, as most Arabic business software in Egypt and the Gulf
-- writes them) or Arabic-Indic (`arab`, ٠١٢٣, with the Arabic separators ٫ ٬ ٪).
-- Other languages always show Latin digits.
ALTER TABLE tenants ADD COLUMN number_system text NOT NULL DEFAULT 'latn'
    CHECK (number_system IN ('latn', 'arab'));
