-- 0003: what a poll tick reads, without walking the rows it does not return (SQLite's 0012;
-- docs/benchmarks.md, "Poll tick growth"). Landed migrations are never edited: change the schema with a
-- new numbered file.

-- The targets with active rows (QueueStore.GetActiveQueuesAsync): one index-only range per active state.
CREATE INDEX ix_pull_request_state_queue ON pull_request (state, owner, repo, target_branch);
-- A repository's rows in one state, by age (GetPullRequestsInStatesAsync): the rows past a timeout, the
-- requests not yet ready, and nothing else.
CREATE INDEX ix_pull_request_owner_repo_state ON pull_request (owner, repo, state, timestamp);
