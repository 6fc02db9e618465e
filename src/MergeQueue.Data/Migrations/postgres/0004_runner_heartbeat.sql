-- 0004: runner heartbeats (SQLite 0013; docs/runner.md, "External runners"): a running job whose
-- heartbeat is older than MergeQueue:Runner:HeartbeatTimeout is queued again.
ALTER TABLE runner_job ADD COLUMN heartbeat_at BIGINT;
CREATE INDEX ix_runner_job_state_heartbeat ON runner_job (state, heartbeat_at);
