-- A delivery record may hold a run of writes: one device's connection written again and again
-- (a stream in a busy group gets one write per message) within one flush of the delivery log is
-- one row instead of one row per write, each write still with its own time. `ends` holds the
-- last seq of each write, `at_ms` its time in ms after written_at (the run's first write).
-- NULL in both: a single write (every row written before this migration). Nullable columns
-- without a default: no table rewrite.
ALTER TABLE deliveries ADD COLUMN ends bigint[], ADD COLUMN at_ms int[];
