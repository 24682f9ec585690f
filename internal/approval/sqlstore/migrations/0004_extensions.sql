-- Longer and nudged: a grant's extensions (JSON, in order), when the
-- approvers of a pending request are next reminded, and which extension a
-- posted message is about.
ALTER TABLE requests ADD COLUMN extensions TEXT NOT NULL DEFAULT 'null';
ALTER TABLE requests ADD COLUMN remind_at BIGINT;
-- Whether the grant's last extension waits for the approvers, for their
-- lists: derived from extensions, like next_due from the rest.
ALTER TABLE requests ADD COLUMN extension_pending BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX requests_extension_pending ON requests (created_at) WHERE extension_pending;
ALTER TABLE messages ADD COLUMN extension INTEGER NOT NULL DEFAULT 0;
