-- An alert a later rewrite of its consignment's timeline no longer supports (the missing
-- arrival turned up; the overdue truck departed) is withdrawn, not deleted: operators can
-- still see it was raised. NULL while open; set back to NULL if the condition returns.
-- The tracker's withdrawal finds rows through alerts_consignment_idx; no new index.
ALTER TABLE alerts ADD COLUMN withdrawn_at timestamptz;
