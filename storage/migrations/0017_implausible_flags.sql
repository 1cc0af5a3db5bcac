-- Legs and stays that a plausibility rule voids (corridor/plausibility.py, docs/domain.md
-- "Plausibility"): kept for the record and the timeline, left out of KPIs.
ALTER TABLE stays ADD COLUMN implausible boolean NOT NULL DEFAULT false;
ALTER TABLE legs ADD COLUMN implausible boolean NOT NULL DEFAULT false;
