-- The commit that carries a PR in its attempt's staging history, for strategies that rewrite the
-- PR's commits (squash, batch-squash, cherry-pick). Construct writes it, Complete reports
-- "Merged as <sha>" with it and closes the PR. NULL for merge and octopus.
ALTER TABLE pull_request ADD COLUMN landed_sha TEXT;
