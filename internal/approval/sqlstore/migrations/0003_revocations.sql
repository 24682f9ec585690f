-- Ending access ends it: what the bot knows of a grant's AWS sessions (never
-- the sessions themselves), and the deny list it keeps on the collaborator
-- role.

-- When the latest session minted for the grant ends, and what became of
-- its live sessions once it ended early: cut (the state, and why it
-- failed), and until when it stays on the deny list.
ALTER TABLE requests ADD COLUMN sessions_end BIGINT;
ALTER TABLE requests ADD COLUMN cut TEXT NOT NULL DEFAULT '';
ALTER TABLE requests ADD COLUMN cut_until BIGINT;
ALTER TABLE requests ADD COLUMN cut_error TEXT NOT NULL DEFAULT '';

-- The deny list: one row per ended grant whose sessions may still run,
-- mirroring requests.cut_until in the same transaction. covered is set once
-- a role-wide cut-off (deny_list.cutoff) stands in for the row's ID; a row
-- written again (a later session) is not covered.
CREATE TABLE revocations (
	request_id TEXT PRIMARY KEY REFERENCES requests (id),
	until      BIGINT NOT NULL,
	covered    BOOLEAN NOT NULL DEFAULT FALSE
);

-- What the cloud was last told, in one row: a digest of the list written,
-- and the role-wide cut-off written when the list did not fit, with the
-- time after which no session it stands for can still run.
CREATE TABLE deny_list (
	id           INTEGER PRIMARY KEY CHECK (id = 1),
	applied      TEXT NOT NULL,
	applied_at   BIGINT NOT NULL,
	cutoff       BIGINT,
	cutoff_until BIGINT
);
