-- Every run of a background job leaves a row: what ran, when, how long, what it touched, and the
-- error if it failed. Feeds /metrics, GET /v1/admin/stats and the operations console.
CREATE TABLE job_runs (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job         text NOT NULL,
  started_at  timestamptz NOT NULL,
  duration_ms integer NOT NULL,
  rows        integer NOT NULL DEFAULT 0,
  detail      jsonb NOT NULL DEFAULT '{}',
  error       text
);
-- "Recent runs of job X" and pruning by age.
CREATE INDEX job_runs_job_started ON job_runs (job, started_at DESC);
CREATE INDEX job_runs_started ON job_runs (started_at);
