-- Presence: one row per user who ever held a poll or stream, with the decided online state.
-- The row is where "exactly once per change across all processes" is decided: every process that
-- sees the user connected upserts it (seen_at = now(), online = true) and only the statement that
-- actually turns `online` from false to true announces "online"; a sweep (any process, SKIP
-- LOCKED) turns rows whose seen_at is older than the online window to false and announces
-- "offline". Both are conditional writes on this one row, so two processes can never both
-- announce the same change, and a reconnect inside the window changes nothing (no flapping).
-- Hash-partitioned by tenant like the other per-user tables: every lookup but the sweep names one
-- tenant.
CREATE TABLE presence (
  tenant_id  text NOT NULL,
  user_id    text NOT NULL,
  online     boolean NOT NULL,
  -- Last time a process asserted the user connected (held connections re-assert a few times a window).
  seen_at    timestamptz NOT NULL,
  -- When `online` last changed: the statement that changes it is the one that announces it.
  changed_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, user_id)
) PARTITION BY HASH (tenant_id);
-- The offline sweep: online rows by age only; offline rows (most of them, most of the time) cost nothing.
CREATE INDEX presence_online_seen ON presence (seen_at) WHERE online;

DO $$
DECLARE i int;
BEGIN
  FOR i IN 0..15 LOOP
    EXECUTE format('CREATE TABLE %I PARTITION OF presence FOR VALUES WITH (MODULUS 16, REMAINDER %s)',
                   'presence_p' || lpad(i::text, 2, '0'), i);
  END LOOP;
END $$;
