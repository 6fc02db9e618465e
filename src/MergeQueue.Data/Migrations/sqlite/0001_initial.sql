-- 0001: the queue's tables (seed 003's pull_request and merge_attempt, plus history and the inbox).
-- Landed migrations are never edited: change the schema with a new numbered file.
-- Times are INTEGER unix epoch milliseconds (UTC). States are the Core enum names.

CREATE TABLE merge_attempt (
    -- Ids come from attempt_sequence (NextAttemptIdAsync), not from the insert, because the flows
    -- name branches after the id before the row is saved.
    id            INTEGER PRIMARY KEY,
    owner         TEXT    NOT NULL COLLATE NOCASE,
    repo          TEXT    NOT NULL COLLATE NOCASE,
    target_branch TEXT    NOT NULL,
    state         TEXT    NOT NULL,
    base_sha      TEXT,
    staging_sha   TEXT,
    parent_id     INTEGER,
    created_at    INTEGER NOT NULL,
    timestamp     INTEGER NOT NULL,  -- seed: time of the last state change
    reason        TEXT,
    version       INTEGER NOT NULL
);

CREATE INDEX ix_merge_attempt_owner_repo_state ON merge_attempt (owner, repo, state);
CREATE INDEX ix_merge_attempt_state_timestamp ON merge_attempt (state, timestamp);
CREATE INDEX ix_merge_attempt_staging_sha ON merge_attempt (staging_sha);

CREATE TABLE pull_request (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    owner         TEXT    NOT NULL COLLATE NOCASE,
    repo          TEXT    NOT NULL COLLATE NOCASE,
    number        INTEGER NOT NULL,
    target_branch TEXT    NOT NULL,
    commit_hash   TEXT    NOT NULL,  -- seed's name: the head commit that was requested
    state         TEXT    NOT NULL,
    -- Deferred so one unit of work can insert an attempt and the PRs that point at it in any order.
    merge_attempt INTEGER REFERENCES merge_attempt (id) DEFERRABLE INITIALLY DEFERRED,
    priority      INTEGER NOT NULL DEFAULT 0,
    requested_at  INTEGER NOT NULL,
    timestamp     INTEGER NOT NULL,  -- seed: time of the last state change (Poll's timeouts read it)
    queued_at     INTEGER,
    requested_by  TEXT,
    title         TEXT,
    author        TEXT,
    reason        TEXT,
    merged_sha    TEXT,
    version       INTEGER NOT NULL
);

-- The seed's unique (owner, repo, number), restricted to active rows: finished requests stay as
-- history, and a new request for the same PR makes a new row. This index is what refuses a second
-- concurrent request for one PR.
CREATE UNIQUE INDEX ux_pull_request_active ON pull_request (owner, repo, number)
    WHERE state IN ('Requested', 'Queued', 'Merging', 'Split');
CREATE INDEX ix_pull_request_owner_repo_number ON pull_request (owner, repo, number);
CREATE INDEX ix_pull_request_merge_attempt ON pull_request (merge_attempt);
CREATE INDEX ix_pull_request_state_timestamp ON pull_request (state, timestamp);

-- One row; NextAttemptIdAsync increments it in a single statement, so concurrent callers serialise
-- on SQLite's write lock and never see the same value.
CREATE TABLE attempt_sequence (
    name  TEXT    PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO attempt_sequence (name, value) VALUES ('merge_attempt', 0);

-- The durable inbox: a delivery is stored before it is handled, so a crash loses nothing and a
-- redelivery (same X-GitHub-Delivery) is recognised.
CREATE TABLE webhook_delivery (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,  -- receive order
    delivery_id  TEXT    NOT NULL UNIQUE,
    event        TEXT    NOT NULL,
    action       TEXT,
    owner        TEXT    COLLATE NOCASE,
    repo         TEXT    COLLATE NOCASE,
    payload      TEXT    NOT NULL,
    received_at  INTEGER NOT NULL,
    processed_at INTEGER,
    outcome      TEXT,
    error        TEXT
);

CREATE INDEX ix_webhook_delivery_unprocessed ON webhook_delivery (id) WHERE processed_at IS NULL;

-- Every state change with its cause, and the effects (GitHub calls) a flow reports.
CREATE TABLE event_log (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    owner      TEXT    NOT NULL COLLATE NOCASE,
    repo       TEXT    NOT NULL COLLATE NOCASE,
    pr_number  INTEGER,
    attempt_id INTEGER,
    kind       TEXT    NOT NULL,  -- 'transition' for entity state changes, else the flow's own kind
    entity     TEXT,              -- 'pull_request' | 'merge_attempt' | NULL
    from_state TEXT,
    to_state   TEXT,
    trigger    TEXT,
    reason     TEXT,
    cause_kind TEXT    NOT NULL,
    cause_id   TEXT,
    actor      TEXT
);

CREATE INDEX ix_event_log_pr ON event_log (owner, repo, pr_number);
CREATE INDEX ix_event_log_attempt ON event_log (attempt_id);
CREATE INDEX ix_event_log_cause ON event_log (cause_kind, cause_id);
CREATE INDEX ix_event_log_at ON event_log (at);
