-- 0003: frozen targets (the freeze command) and try builds (the try command).
-- Landed migrations are never edited: change the schema with a new numbered file.

-- One row per frozen target branch; unfreeze deletes it. Who, when and why are shown to users.
CREATE TABLE queue_freeze (
    owner         TEXT    NOT NULL COLLATE NOCASE,
    repo          TEXT    NOT NULL COLLATE NOCASE,
    target_branch TEXT    NOT NULL,
    frozen_by     TEXT    NOT NULL,
    frozen_at     INTEGER NOT NULL,
    reason        TEXT,
    PRIMARY KEY (owner, repo, target_branch)
);

-- The latest try build of each pull request; a new try replaces the row.
CREATE TABLE try_build (
    owner         TEXT    NOT NULL COLLATE NOCASE,
    repo          TEXT    NOT NULL COLLATE NOCASE,
    number        INTEGER NOT NULL,
    target_branch TEXT    NOT NULL,
    head_sha      TEXT    NOT NULL,
    try_sha       TEXT,
    state         TEXT    NOT NULL,  -- Core TryState name
    requested_by  TEXT    NOT NULL,
    started_at    INTEGER NOT NULL,
    reason        TEXT,
    PRIMARY KEY (owner, repo, number)
);

CREATE INDEX ix_try_build_state ON try_build (state);
