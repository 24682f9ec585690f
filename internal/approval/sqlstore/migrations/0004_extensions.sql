-- Longer and nudged: a grant's extensions (JSON, in order), when the
-- approvers of a pending request are next reminded, and which extension a
-- posted message is about.
ALTER TABLE requests ADD COLUMN extensions TEXT NOT NULL DEFAULT 'null';
ALTER TABLE requests ADD COLUMN remind_at BIGINT;
ALTER TABLE messages ADD COLUMN extension INTEGER NOT NULL DEFAULT 0;
