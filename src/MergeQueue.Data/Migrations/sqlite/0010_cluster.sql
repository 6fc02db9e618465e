-- 0010: instances and leases (docs/operations.md, "Scaling out"). With SQLite one instance runs, but
-- the same code keeps its delivery lanes and singleton jobs in these rows as on PostgreSQL.
-- Landed migrations are never edited: change the schema with a new numbered file.

-- Each running instance, refreshed by its heartbeat; the cluster view lists those seen lately.
CREATE TABLE service_instance (
    id           TEXT    PRIMARY KEY,
    host         TEXT    NOT NULL,
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL
) WITHOUT ROWID;

-- A named claim (a repository's delivery lane, the notifier) held by one instance until it expires;
-- the holder renews it while it works, and anyone may take it over once it expired.
CREATE TABLE lease (
    name        TEXT    PRIMARY KEY,
    holder      TEXT    NOT NULL,
    acquired_at INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) WITHOUT ROWID;

-- The keys that protect sign-in cookies and forms, shared by every instance so any of them can read
-- a cookie another wrote. Each key's XML is encrypted (AES-GCM, a key derived from the webhook secret).
CREATE TABLE data_protection_key (
    name       TEXT    PRIMARY KEY,
    xml        TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
