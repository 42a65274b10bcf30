-- Issue 15, seed 003's step types: besides sending, a step can wait until a moment
-- (a launch date, the day after an event) or branch on a condition (opened, clicked,
-- replied, the journey's state, a field of the lead). DECISIONS 84.
--
-- A condition's two branches each go on to the next step, end the enrolment, or jump
-- to a later step of the same sequence (never back: a sequence always ends). The
-- scheduler evaluates a condition when the enrolment reaches it, after its delay.
ALTER TABLE sequence_steps
    ADD COLUMN kind text NOT NULL DEFAULT 'SEND' CHECK (kind IN ('SEND', 'WAIT_UNTIL', 'CONDITION')),
    ALTER COLUMN channel DROP NOT NULL,
    ALTER COLUMN template_id DROP NOT NULL,
    ADD COLUMN wait_until timestamptz,
    ADD COLUMN condition text CHECK (condition IN ('OPENED', 'CLICKED', 'REPLIED', 'JOURNEY_STATE', 'FIELD')),
    -- For FIELD: status, source, tag, score, or custom.<key> of a lead custom field.
    ADD COLUMN condition_field text CHECK (condition_field ~ '^(status|source|tag|score|custom\.[a-z][a-z0-9_]{0,39})$'),
    ADD COLUMN condition_value text CHECK (length(condition_value) BETWEEN 1 AND 100),
    ADD COLUMN then_go text NOT NULL DEFAULT 'NEXT' CHECK (then_go IN ('NEXT', 'END', 'STEP')),
    ADD COLUMN then_step_id uuid,
    ADD COLUMN else_go text NOT NULL DEFAULT 'NEXT' CHECK (else_go IN ('NEXT', 'END', 'STEP')),
    ADD COLUMN else_step_id uuid,
    ADD CONSTRAINT sequence_steps_then_fk FOREIGN KEY (tenant_id, then_step_id) REFERENCES sequence_steps (tenant_id, id),
    ADD CONSTRAINT sequence_steps_else_fk FOREIGN KEY (tenant_id, else_step_id) REFERENCES sequence_steps (tenant_id, id),
    ADD CONSTRAINT sequence_steps_then_target CHECK ((then_go = 'STEP') = (then_step_id IS NOT NULL)),
    ADD CONSTRAINT sequence_steps_else_target CHECK ((else_go = 'STEP') = (else_step_id IS NOT NULL)),
    ADD CONSTRAINT sequence_steps_kind_fields CHECK (CASE kind
        WHEN 'SEND' THEN channel IS NOT NULL AND template_id IS NOT NULL AND condition IS NULL AND wait_until IS NULL
        WHEN 'WAIT_UNTIL' THEN wait_until IS NOT NULL AND template_id IS NULL AND condition IS NULL
        ELSE condition IS NOT NULL AND template_id IS NULL AND wait_until IS NULL
             AND (condition <> 'FIELD' OR (condition_field IS NOT NULL AND condition_value IS NOT NULL))
             AND (condition <> 'JOURNEY_STATE' OR condition_value IS NOT NULL)
    END),
    ADD CONSTRAINT sequence_steps_branches_only_on_conditions
        CHECK (kind = 'CONDITION' OR (then_go = 'NEXT' AND else_go = 'NEXT'));
-- The targets a removed step leaves behind are found by these.
CREATE INDEX sequence_steps_then ON sequence_steps (tenant_id, then_step_id) WHERE then_step_id IS NOT NULL;
CREATE INDEX sequence_steps_else ON sequence_steps (tenant_id, else_step_id) WHERE else_step_id IS NOT NULL;
