-- 0009: with required_checks: from_branch_protection an attempt keeps the checks the target's branch
-- protection required when it started, so a protection change never alters a run under test.
-- Landed migrations are never edited: change the schema with a new numbered file.

-- The contexts, one per line; NULL: the config's required_checks.
ALTER TABLE merge_attempt ADD COLUMN required_checks TEXT;
