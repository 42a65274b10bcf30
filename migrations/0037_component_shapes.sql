-- Issue 12: a shape may stand for one component of a unit (a bedroom on the unit's own
-- plan) as well as for the whole unit. The shape keeps its unit, so the map colours a
-- room by its unit's status; the component must be of that unit.
ALTER TABLE unit_components ADD CONSTRAINT unit_components_of_unit UNIQUE (tenant_id, unit_id, id);
ALTER TABLE map_shapes ADD COLUMN component_id uuid;
-- Deleting the component leaves the shape drawn and unlinked, as deleting a unit does.
ALTER TABLE map_shapes ADD CONSTRAINT map_shapes_component_of_unit
    FOREIGN KEY (tenant_id, unit_id, component_id) REFERENCES unit_components (tenant_id, unit_id, id)
    ON DELETE SET NULL (unit_id, component_id);
-- A unit is drawn once on a plan, and so is each of its components.
DROP INDEX map_shapes_unit;
CREATE UNIQUE INDEX map_shapes_unit ON map_shapes (tenant_id, plan_id, unit_id)
    WHERE unit_id IS NOT NULL AND component_id IS NULL;
CREATE UNIQUE INDEX map_shapes_component ON map_shapes (tenant_id, plan_id, component_id)
    WHERE component_id IS NOT NULL;
