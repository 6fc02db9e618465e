-- 0011: the built-in runner (docs/runner.md, issue 16): jobs queued for commits and their logs.
-- Landed migrations are never edited: change the schema with a new numbered file.

-- One job on one commit: its name is the status context it reports. The job's settings (run, timeout,
-- env, flaky retries) are copied in when it is queued, so a config change never alters a queued job.
CREATE TABLE runner_job (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    owner       TEXT    NOT NULL COLLATE NOCASE,
    repo        TEXT    NOT NULL COLLATE NOCASE,
    sha         TEXT    NOT NULL,
    context     TEXT    NOT NULL,  -- the job's name
    trigger     TEXT    NOT NULL,  -- staging | try | pull_request | push
    branch      TEXT,              -- the branch whose push queued it (cancelled when it moves away or goes)
    attempt_id  INTEGER,           -- the merge attempt, for staging commits
    spec        TEXT    NOT NULL,  -- JSON: run, timeout, env, flaky retries and patterns
    state       TEXT    NOT NULL,  -- queued | running | success | failure | error | cancelled
    description TEXT,              -- the last status description posted
    tries       INTEGER NOT NULL DEFAULT 0,
    exit_code   INTEGER,
    claimed_by  TEXT,              -- the instance running it
    created_at  INTEGER NOT NULL,
    started_at  INTEGER,
    finished_at INTEGER
);
CREATE INDEX ix_runner_job_state_id ON runner_job (state, id);
CREATE INDEX ix_runner_job_owner_repo_sha ON runner_job (owner, repo, sha);
CREATE INDEX ix_runner_job_owner_repo_branch_state ON runner_job (owner, repo, branch, state);
CREATE INDEX ix_runner_job_finished_at ON runner_job (finished_at);

-- What a job printed, in chunks as it came (readable while it runs), per try.
CREATE TABLE runner_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id  INTEGER NOT NULL REFERENCES runner_job (id) ON DELETE CASCADE,
    try     INTEGER NOT NULL,
    at      INTEGER NOT NULL,
    text    TEXT    NOT NULL
);
CREATE INDEX ix_runner_log_job_id ON runner_log (job_id, id);
