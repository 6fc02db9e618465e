-- 0008: notifications (docs/operations.md, "Notifications"): an outbox of messages to outgoing webhooks
-- and Slack, filled from event_log by the service's notifier, and the log of every delivery attempt.
-- Landed migrations are never edited: change the schema with a new numbered file.

-- How far the notifier has read event_log. Set to the current end at upgrade, so history is not announced.
CREATE TABLE notification_cursor (
    name          TEXT    PRIMARY KEY,
    last_event_id INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO notification_cursor (name, last_event_id) SELECT 'event_log', coalesce(max(id), 0) FROM event_log;

-- One message to one target. Written in the same transaction that moves the cursor, so a crash
-- neither loses an event nor announces it twice (a send cut off mid-way is sent again: at least once).
CREATE TABLE notification (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    event_key       TEXT    NOT NULL,  -- what it announces: 'event_log:<id>' or 'stuck:<owner>/<repo>:<target>:<since>'
    event           TEXT    NOT NULL,  -- merged | failed | timed_out | stuck | frozen | unfrozen
    owner           TEXT    NOT NULL COLLATE NOCASE,
    repo            TEXT    NOT NULL COLLATE NOCASE,
    target_branch   TEXT,
    pr_number       INTEGER,
    channel         TEXT    NOT NULL,  -- webhook | slack
    target_name     TEXT    NOT NULL,  -- the name in MergeQueue:Notifications
    payload         TEXT    NOT NULL,  -- the exact body sent, so every retry sends the same bytes
    created_at      INTEGER NOT NULL,
    state           TEXT    NOT NULL,  -- pending | delivered | dead
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    delivered_at    INTEGER,
    last_error      TEXT
);
CREATE UNIQUE INDEX ux_notification_key ON notification (event_key, channel, target_name);
CREATE INDEX ix_notification_pending ON notification (next_attempt_at) WHERE state = 'pending';

-- Every try to deliver a notification, successful or not.
CREATE TABLE notification_attempt (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    notification_id INTEGER NOT NULL REFERENCES notification (id) ON DELETE CASCADE,
    at              INTEGER NOT NULL,
    status_code     INTEGER,           -- NULL: no answer (connection refused, timeout)
    error           TEXT,
    duration_ms     INTEGER NOT NULL
);
CREATE INDEX ix_notification_attempt_notification ON notification_attempt (notification_id);

-- Targets announced as stuck, with the last merge they were stuck behind: one message per episode.
-- The row goes when nothing waits any more; a merge starts a new episode.
CREATE TABLE notification_stuck (
    owner         TEXT    NOT NULL COLLATE NOCASE,
    repo          TEXT    NOT NULL COLLATE NOCASE,
    target_branch TEXT    NOT NULL,
    last_merge_at INTEGER,
    notified_at   INTEGER NOT NULL,
    PRIMARY KEY (owner, repo, target_branch)
);
