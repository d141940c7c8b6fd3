-- Groups and the fan-out outbox. Forward-only; the migrator runs this file in one transaction.

-- A named set of users. Hash-partitioned by tenant like the core tables: every lookup names one
-- tenant (one partition), and the same key distributes the table later.
-- presence: members of this group see each other's online state (the presence feature).
CREATE TABLE groups (
  tenant_id  text NOT NULL,
  group_id   text NOT NULL,
  presence   boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, group_id)
) PARTITION BY HASH (tenant_id);

-- Membership. The primary key serves the publish path: the members of one group, in user order
-- (an index-only scan), which is also the inbox lock order. Partitioned with its group.
CREATE TABLE group_members (
  tenant_id text NOT NULL,
  group_id  text NOT NULL,
  user_id   text NOT NULL,
  added_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, group_id, user_id)
) PARTITION BY HASH (tenant_id);
-- "Which groups is this user in": presence (who shares a group with whom).
CREATE INDEX group_members_user ON group_members (tenant_id, user_id);

-- Fan-out work for groups above the inline limit, written in the publish transaction together
-- with the message, so a committed message always has either its entries or this row: the row,
-- not the pg-boss job, is the source of truth, and a lost job is re-driven from it.
-- members: the recipients fixed at publish time (sorted, "C" collation: the inbox lock order;
-- the sender's own copy is written inline and is not in it). Members added later never get the
-- message; members removed after the publish still do, exactly as if the fan-out had been inline.
-- done: how many of `members` are fanned out (the cursor); a batch advances it in its own
-- transaction, so a crash repeats at most one uncommitted batch.
-- Not partitioned: it is small (rows live only while a fan-out runs, plus a short history) and
-- the re-drive scan reads it across tenants.
CREATE TABLE outbox (
  tenant_id   text NOT NULL,
  message_id  uuid NOT NULL,
  group_id    text NOT NULL,
  members     text[] NOT NULL,
  total       integer NOT NULL,
  done        integer NOT NULL DEFAULT 0,
  state       text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'expired')),
  attempts    integer NOT NULL DEFAULT 0,
  last_error  text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  PRIMARY KEY (tenant_id, message_id)
);
-- The re-drive scan: pending rows not touched for a while. Partial, so finished rows cost nothing.
CREATE INDEX outbox_pending ON outbox (updated_at) WHERE state = 'pending';
-- Pruning finished rows by age.
CREATE INDEX outbox_finished ON outbox (finished_at) WHERE state <> 'pending';

DO $$
DECLARE t text; i int;
BEGIN
  FOREACH t IN ARRAY ARRAY['groups', 'group_members'] LOOP
    FOR i IN 0..15 LOOP
      EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES WITH (MODULUS 16, REMAINDER %s)',
                     t || '_p' || lpad(i::text, 2, '0'), t, i);
    END LOOP;
  END LOOP;
END $$;
