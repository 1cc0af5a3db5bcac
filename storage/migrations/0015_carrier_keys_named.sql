-- A carrier key sees the consignments whose carrier_id is its own. 'not-named' is the
-- carrier_id of events whose message names no carrier (corridor.events.CARRIER_NOT_NAMED),
-- so a key for it would see every consignment whose carrier is not yet known.
ALTER TABLE api_keys ADD CONSTRAINT api_keys_carrier_named
    CHECK (carrier_id IS DISTINCT FROM 'not-named');
