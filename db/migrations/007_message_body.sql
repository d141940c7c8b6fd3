-- The message as readers receive it (JSON text without the per-inbox seq), written once by the
-- publish statement. Every delivery used to rebuild it (row_to_json + to_char, ~5-9 µs a row):
-- most of the cost of reading a page of 1,000 entries. The payload stays in `payload` (jsonb) for
-- containment search; this is its wire form. Rows stored before this migration have NULL here and
-- are built on read (see db/queries/messageJson.ts).
ALTER TABLE messages ADD COLUMN body text;
