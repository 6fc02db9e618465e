-- 0006: deliveries whose handling failed are retried with backoff, then parked as dead.
-- Landed migrations are never edited: change the schema with a new numbered file.

-- Handling attempts that failed so far.
ALTER TABLE webhook_delivery ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
-- Not to be handled before this instant (unix ms); NULL: at once.
ALTER TABLE webhook_delivery ADD COLUMN next_attempt_at INTEGER;

-- Dead deliveries are listed for replay.
CREATE INDEX ix_webhook_delivery_dead ON webhook_delivery (id) WHERE outcome = 'dead';
-- 1: GitHub was unavailable or rate limited for this delivery's repository, so the repository's
-- later deliveries wait for it (their order is kept); 0: only this delivery failed (poison).
ALTER TABLE webhook_delivery ADD COLUMN holds INTEGER NOT NULL DEFAULT 0;
-- Pending deliveries of one repository, in order: the handler finds what waits behind a held one.
CREATE INDEX ix_webhook_delivery_pending_repo ON webhook_delivery (owner, repo, id) WHERE processed_at IS NULL;
