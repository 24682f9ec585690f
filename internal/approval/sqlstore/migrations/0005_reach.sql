-- No grant stuck: why the requester's DM with a grant's first link could
-- not be delivered ('' when it was), shown on the approval message.
ALTER TABLE requests ADD COLUMN undelivered TEXT NOT NULL DEFAULT '';
