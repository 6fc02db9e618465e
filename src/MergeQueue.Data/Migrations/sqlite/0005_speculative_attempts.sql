-- 0005: speculative attempts (parallel_attempts), flake retries, and "held back" as a field.
-- Landed migrations are never edited: change the schema with a new numbered file.

-- The attempt ahead whose staging commit this one is built on; NULL when it is built on the target.
ALTER TABLE merge_attempt ADD COLUMN ahead_id INTEGER;
-- How many times its staging run was rebuilt on the same tree after a flake.
ALTER TABLE merge_attempt ADD COLUMN flake_retries INTEGER NOT NULL DEFAULT 0;
-- Queued but held back by a rule that may clear (a blocking label, draft); reason says why.
ALTER TABLE pull_request ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
