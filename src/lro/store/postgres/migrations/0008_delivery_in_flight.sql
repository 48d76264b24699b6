-- A claimed delivery is being sent until `in_flight_until` (the end of its claim's lease).
-- A manual retry that arrives meanwhile leaves it alone: the attempt under way is the
-- retry, and making it due again would start a second, overlapping send with the same
-- webhook-id whose outcome the attempt fence would then drop from the history.
ALTER TABLE lro_deliveries ADD COLUMN in_flight_until timestamptz;
