-- Requests for one object (a download or an upload link) beside folder
-- requests. kind is folder, get or put; object_key is the object's key,
-- empty for a folder. Every request stored before is a folder request,
-- which the defaults say.
ALTER TABLE requests ADD COLUMN kind TEXT NOT NULL DEFAULT 'folder';
ALTER TABLE requests ADD COLUMN object_key TEXT NOT NULL DEFAULT '';
