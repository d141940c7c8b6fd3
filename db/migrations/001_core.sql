-- Core schema: tenants, keys, messages, per-user inboxes and device cursors.
-- Forward-only; the migrator runs this file in one transaction.

-- A tenant is an isolated namespace. Its id is a short slug ("demo") used in tokens (`tid`).
-- signing_secret signs its client tokens (HS256); max_ttl_s caps per-message ttlSeconds.
CREATE TABLE tenants (
  id             text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  signing_secret text NOT NULL,
  max_ttl_s      integer NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now()
);

-- Only a SHA-256 of the secret part is stored; keys are high-entropy, so a fast hash is enough.
-- A key reads `msk_<id>_<secret>`: the id finds the row, the hash is compared in constant time.
CREATE TABLE api_keys (
  id          text PRIMARY KEY,
  tenant_id   text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  role        text NOT NULL CHECK (role IN ('admin', 'publish')),
  secret_hash bytea NOT NULL,
  label       text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id);

-- One row per message; the body is stored once however many inboxes it reaches.
-- Hash-partitioned by tenant: every query names one tenant, so it touches one partition, and the
-- same key later distributes the table (Citus) without changing a query.
CREATE TABLE messages (
  tenant_id  text NOT NULL,
  id         uuid NOT NULL,
  sender     text NOT NULL,
  group_id   text,
  type       text NOT NULL,
  payload    jsonb NOT NULL,
  dedup_id   text,
  -- SHA-256 of the publish request, to tell a retry (same body) from a conflict (other body).
  req_hash   bytea,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, id)
) PARTITION BY HASH (tenant_id);

-- Idempotent publish: a dedupId is unique per tenant and sender while the message is retained.
CREATE UNIQUE INDEX messages_dedup ON messages (tenant_id, sender, dedup_id) WHERE dedup_id IS NOT NULL;
-- `match=` containment queries (payload @> '{…}'); jsonb_path_ops is smaller and faster for @>.
CREATE INDEX messages_payload_gin ON messages USING gin (payload jsonb_path_ops);
-- TTL cleanup walks expired rows in small batches.
CREATE INDEX messages_expires ON messages (expires_at);

-- The per-user counter. seq is assigned by `UPDATE … SET head_seq = head_seq + n RETURNING`: the
-- row lock is held until COMMIT, so for one inbox seq order equals commit order and a reader can
-- never see seq N+1 committed while N is not (guarantee 2). Writers lock several inboxes in sorted
-- order, so concurrent publishes to overlapping recipients cannot deadlock.
-- floor_seq: every seq <= floor_seq has expired (retention floor; oldest retained = floor_seq + 1).
-- fillfactor leaves room for HOT updates of this very hot row.
CREATE TABLE inboxes (
  tenant_id  text NOT NULL,
  user_id    text NOT NULL,
  head_seq   bigint NOT NULL DEFAULT 0,
  read_seq   bigint NOT NULL DEFAULT 0,
  floor_seq  bigint NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, user_id)
) PARTITION BY HASH (tenant_id);

-- The ordered inbox: (tenant, user, seq) -> message. Write fan-out: N recipients, N small rows.
CREATE TABLE inbox_entries (
  tenant_id  text NOT NULL,
  user_id    text NOT NULL,
  seq        bigint NOT NULL,
  message_id uuid NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, user_id, seq)
) PARTITION BY HASH (tenant_id);
-- One entry per (message, user): makes a retried fan-out batch a no-op and serves receipts.
CREATE UNIQUE INDEX inbox_entries_message ON inbox_entries (tenant_id, message_id, user_id);
CREATE INDEX inbox_entries_expires ON inbox_entries (expires_at);

-- A device's delivery cursor: the highest seq it acknowledged. It only moves forward.
CREATE TABLE devices (
  tenant_id  text NOT NULL,
  user_id    text NOT NULL,
  device_id  text NOT NULL,
  acked_seq  bigint NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_seen  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, user_id, device_id)
) PARTITION BY HASH (tenant_id);

-- 16 hash partitions per partitioned table, fixed at install.
DO $$
DECLARE t text; i int;
BEGIN
  FOREACH t IN ARRAY ARRAY['messages', 'inboxes', 'inbox_entries', 'devices'] LOOP
    FOR i IN 0..15 LOOP
      EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES WITH (MODULUS 16, REMAINDER %s)',
                     t || '_p' || lpad(i::text, 2, '0'), t, i);
    END LOOP;
  END LOOP;
END $$;
DO $$
DECLARE i int;
BEGIN
  FOR i IN 0..15 LOOP
    EXECUTE format('ALTER TABLE %I SET (fillfactor = 70)', 'inboxes_p' || lpad(i::text, 2, '0'));
    EXECUTE format('ALTER TABLE %I SET (fillfactor = 70)', 'devices_p' || lpad(i::text, 2, '0'));
  END LOOP;
END $$;
