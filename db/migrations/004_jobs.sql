-- Background jobs: unacknowledged-delivery tracking on devices, and dead letters.
-- Forward-only; the migrator runs this file in one transaction. Depends only on 001/002.

-- What was written to a device and how far the compensation scan has gone with it. All of it is a
-- hint, written with synchronous_commit off: losing an update in a crash delays a re-offer by one
-- scan, never loses a message (the cursor, acked_seq, is what delivery trusts).
--   delivered_seq   highest seq a stream or poll wrote to this device
--   delivered_at    when the current unacknowledged window began (first delivery past acked_seq)
--   offer_acked     acked_seq when that window began: an ack moving past it means progress, and
--                   the scan restarts the clock instead of re-offering
--   offer_attempts  re-offers made in this window; at ACK_MAX_ATTEMPTS the next due time dead-letters
--   last_offer_at, next_offer_at   exponential backoff of the re-offers
--   offline_since   set when the device is dead-lettered: the scan leaves it alone until it acks,
--                   or an operator retries or discards its dead letter
-- No index on these columns, on purpose: devices is updated on every poll and ack, and fillfactor 70
-- keeps those updates HOT only while no indexed column changes. The scan (once a minute by default)
-- reads the table sequentially instead; a million devices take well under a second.
ALTER TABLE devices
  ADD COLUMN delivered_seq  bigint NOT NULL DEFAULT 0,
  ADD COLUMN delivered_at   timestamptz,
  ADD COLUMN offer_acked    bigint NOT NULL DEFAULT 0,
  ADD COLUMN offer_attempts integer NOT NULL DEFAULT 0,
  ADD COLUMN last_offer_at  timestamptz,
  ADD COLUMN next_offer_at  timestamptz,
  ADD COLUMN offline_since  timestamptz;

-- A device that never acknowledged a range of its inbox after every re-offer. Kept for operators:
-- retry (re-offer from the device's cursor) or discard (acknowledge the range away). A row becomes
-- 'acked' by itself when the device acknowledges past to_seq. Few rows; not partitioned.
CREATE TABLE dead_letters (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id   text NOT NULL,
  user_id     text NOT NULL,
  device_id   text NOT NULL,
  from_seq    bigint NOT NULL,
  to_seq      bigint NOT NULL,
  attempts    integer NOT NULL,
  reason      text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  state       text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'retried', 'discarded', 'acked')),
  resolved_at timestamptz
);
-- The admin list: one tenant's letters in a state, newest first.
CREATE INDEX dead_letters_tenant ON dead_letters (tenant_id, state, created_at DESC);
-- The scan closes open letters whose device acknowledged meanwhile; open ones are few.
CREATE INDEX dead_letters_open ON dead_letters (tenant_id, user_id, device_id) WHERE state = 'open';
