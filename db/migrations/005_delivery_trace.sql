-- Delivery records: which seqs of an inbox were written to which device's connection, when, and by
-- which transport. One row per write (a poll answer or one page of a stream), not per message, so
-- a fan-out to a busy stream costs one row per page. Written in batches, asynchronously
-- (synchronous_commit off): a record lost in a crash only makes a trace less complete, never loses
-- a message. Serves GET /v1/admin/messages/:id/trace ("did user X get message Y?").
-- Hash-partitioned by tenant like the inbox tables: every query names one tenant.
CREATE TABLE deliveries (
  tenant_id  text NOT NULL,
  user_id    text NOT NULL,
  device_id  text NOT NULL,
  first_seq  bigint NOT NULL,
  last_seq   bigint NOT NULL,
  transport  text NOT NULL CHECK (transport IN ('poll', 'stream')),
  written_at timestamptz NOT NULL
) PARTITION BY HASH (tenant_id);
-- The trace asks "rows of user U whose range holds seq S": last_seq >= S narrows, first_seq <= S filters.
CREATE INDEX deliveries_user_seq ON deliveries (tenant_id, user_id, last_seq);
-- Pruning by age walks this index in small batches.
CREATE INDEX deliveries_written ON deliveries (written_at);

DO $$
DECLARE i int;
BEGIN
  FOR i IN 0..15 LOOP
    EXECUTE format('CREATE TABLE %I PARTITION OF deliveries FOR VALUES WITH (MODULUS 16, REMAINDER %s)',
                   'deliveries_p' || lpad(i::text, 2, '0'), i);
  END LOOP;
END $$;
