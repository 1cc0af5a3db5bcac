-- Shared by both backends (plain tables only, so no hypertable restriction applies).
--
-- A consignment opened under an MRN before anything linked that MRN to its declaration
-- (an arrival notification posted first) is merged into the consignment the link names;
-- the MRN then stays an alias of it, so a message filed under it later is re-filed there
-- (corridor/aliases.py). The first link recorded for an alias wins.
CREATE TABLE consignment_aliases (
    alias          text PRIMARY KEY,
    consignment_id text NOT NULL CHECK (consignment_id <> alias),
    created_at     timestamptz NOT NULL DEFAULT now()
);

-- A consignment no message has named a carrier for yet belongs to no carrier: NULL, which
-- no carrier key's scope (`carrier_id = <key's carrier>`) ever matches, instead of the
-- sentinel 'not-named' the events of such messages carry on the wire.
ALTER TABLE consignments ALTER COLUMN carrier_id DROP NOT NULL;
UPDATE consignments SET carrier_id = NULL WHERE carrier_id = 'not-named';
UPDATE alerts SET carrier_id = NULL WHERE carrier_id = 'not-named';
