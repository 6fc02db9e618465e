-- 0007: indexes for the dashboard's and the API's hot queries and for the retention purge.
-- Landed migrations are never edited: change the schema with a new numbered file.
-- (0006 belongs to dead-lettered deliveries, written on another branch.)

-- Everything one cause did (a delivery's page, a PR's timeline): looked up by cause id alone, which
-- ix_event_log_cause (cause_kind, cause_id) cannot serve.
CREATE INDEX ix_event_log_cause_id ON event_log (cause_id);
-- The audit log's actor filter.
CREATE INDEX ix_event_log_actor ON event_log (actor);

-- The latest deliveries of a repository, and the list of repositories (a skip scan over owner, repo).
CREATE INDEX ix_webhook_delivery_owner_repo ON webhook_delivery (owner, repo, id);
-- The last delivery, failures of the last day, and the purge of handled deliveries by age.
CREATE INDEX ix_webhook_delivery_received_at ON webhook_delivery (received_at);

-- A repository's latest finished requests, newest first.
CREATE INDEX ix_pull_request_owner_repo_timestamp ON pull_request (owner, repo, timestamp);
