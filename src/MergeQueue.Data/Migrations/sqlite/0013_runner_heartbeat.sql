-- 0013: runner heartbeats (docs/runner.md, "External runners"): whoever runs a job (a slot of an instance
-- or an external runner process) renews heartbeat_at while it runs; a running job whose heartbeat is older
-- than MergeQueue:Runner:HeartbeatTimeout is queued again (its runner died or lost its network).
-- Landed migrations are never edited: change the schema with a new numbered file.
ALTER TABLE runner_job ADD COLUMN heartbeat_at INTEGER;
CREATE INDEX ix_runner_job_state_heartbeat ON runner_job (state, heartbeat_at);
