-- The payload index (GIN, for search) without its pending list. With fastupdate on, PostgreSQL's
-- default, new keys go to a pending list and the insert that finds it over gin_pending_list_limit
-- (4 MB) merges it into the index itself: that publish, and every publish queued behind it, waited
-- 0.5-0.7 s (pg_stat_activity: IO DataFileRead in the publish statement; merging 248 pending pages
-- by hand took 483 ms on an idle machine). Off, each insert adds its keys to the index directly: a
-- steady cost per message instead of a stall every few tens of thousands (README "Performance").
-- A partitioned index takes no storage parameters: each partition's index is set, and the pending
-- list it already holds merged now rather than by the next publish.
DO $$
DECLARE
  part regclass;
BEGIN
  FOR part IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'messages_payload_gin'::regclass LOOP
    EXECUTE format('ALTER INDEX %s SET (fastupdate = off)', part);
    PERFORM gin_clean_pending_list(part);
  END LOOP;
END $$;
