-- 0012: what a poll tick reads, without walking the rows it does not return (docs/benchmarks.md,
-- "Poll tick growth"). Landed migrations are never edited: change the schema with a new numbered file.

-- The targets with active rows (QueueStore.GetActiveQueuesAsync), from the index alone: one range per
-- active state, already in (owner, repo, target) order, so a queued PR costs an index entry, not a page.
CREATE INDEX ix_pull_request_state_queue ON pull_request (state, owner, repo, target_branch);
-- A repository's rows in one state, by age (GetPullRequestsInStatesAsync: the rows past a timeout, the
-- requests not yet ready): only those rows, not the repository's queue or its finished history.
CREATE INDEX ix_pull_request_owner_repo_state ON pull_request (owner, repo, state, timestamp);
