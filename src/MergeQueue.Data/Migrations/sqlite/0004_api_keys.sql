-- 0004: REST API keys, users and their roles, and repositories switched off through the API.
-- Landed migrations are never edited: change the schema with a new numbered file.

-- An API key is stored only as the SHA-256 of the key (hex); the key itself is shown once, at creation.
CREATE TABLE api_key (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL,
    key_hash    TEXT    NOT NULL UNIQUE,
    role        TEXT    NOT NULL,          -- admin | user | read-only
    repos       TEXT    NOT NULL,          -- JSON array of owner/repo the role applies to (user role)
    created_at  INTEGER NOT NULL,
    created_by  TEXT    NOT NULL,
    revoked_at  INTEGER
);

-- People (GitHub logins) and the role an admin gave them; the dashboard's sign-in maps a login to this.
CREATE TABLE api_user (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    login       TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    role        TEXT    NOT NULL,
    repos       TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- Repositories an admin disabled: their deliveries are ignored and nothing starts for them.
CREATE TABLE repo_setting (
    owner       TEXT    NOT NULL COLLATE NOCASE,
    repo        TEXT    NOT NULL COLLATE NOCASE,
    enabled     INTEGER NOT NULL,
    changed_by  TEXT    NOT NULL,
    changed_at  INTEGER NOT NULL,
    PRIMARY KEY (owner, repo)
);
