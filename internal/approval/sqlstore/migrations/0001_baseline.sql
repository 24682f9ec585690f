-- The stage-one schema. Times are unix milliseconds (UTC) in BIGINT
-- columns, NULL for the zero time; maps and lists are JSON text.
--
-- Unlike every later migration, this one is idempotent (IF NOT EXISTS,
-- IF EXISTS): stage-one share-bucket created these tables on every start
-- without recording a version, so a stage-one database has them all and no
-- schema_migrations table. Applying this migration to it changes nothing
-- but the leftover index below and records version 1, adopting it. Later
-- migrations only ever run on a database at the version before theirs, so
-- they are plain DDL.

-- requests.next_due mirrors Request.NextDue() and is rewritten with every
-- write of the request, so Due and Wake are range scans of one partial
-- index however many requests are stored.
CREATE TABLE IF NOT EXISTS requests (
	id          TEXT PRIMARY KEY,
	requester   TEXT NOT NULL,
	bucket      TEXT NOT NULL,
	prefix      TEXT NOT NULL,
	access      TEXT NOT NULL,
	duration_ns BIGINT NOT NULL,
	reason      TEXT NOT NULL,
	state       TEXT NOT NULL,
	created_at  BIGINT,
	timeout_at  BIGINT,
	approvals   TEXT NOT NULL,
	decided_by  TEXT NOT NULL,
	decided_at  BIGINT,
	ends_at     BIGINT,
	warn_at     BIGINT,
	warned      BOOLEAN NOT NULL,
	ended_by    TEXT NOT NULL,
	ended_at    BIGINT,
	failure     TEXT NOT NULL,
	version     BIGINT NOT NULL,
	next_due    BIGINT
);
CREATE INDEX IF NOT EXISTS requests_next_due ON requests (next_due, id) WHERE next_due IS NOT NULL;
CREATE INDEX IF NOT EXISTS requests_requester ON requests (requester, created_at);
CREATE INDEX IF NOT EXISTS requests_state ON requests (state, created_at);

CREATE TABLE IF NOT EXISTS messages (
	id         {{AutoID}},
	request_id TEXT NOT NULL REFERENCES requests (id),
	kind       TEXT NOT NULL,
	channel    TEXT NOT NULL,
	ts         TEXT NOT NULL,
	UNIQUE (request_id, channel, ts)
);

-- events is both the audit log and the outbox. An undelivered event has
-- delivered_at NULL; audit-only events are inserted delivered. The partial
-- indexes cover only undelivered events, so they stay as small as the
-- outbox.
CREATE TABLE IF NOT EXISTS events (
	seq             {{AutoID}},
	request_id      TEXT NOT NULL REFERENCES requests (id),
	at              BIGINT,
	kind            TEXT NOT NULL,
	actor           TEXT NOT NULL,
	detail          TEXT NOT NULL,
	notify          BOOLEAN NOT NULL,
	delivered_at    BIGINT,
	next_attempt_at BIGINT NOT NULL,
	attempts        INTEGER NOT NULL DEFAULT 0,
	lease_owner     TEXT,
	lease_until     BIGINT,
	last_error      TEXT
);
-- A request's events, for Audit and for finding the oldest undelivered one
-- (Claim, Wake): a request has a handful.
CREATE INDEX IF NOT EXISTS events_request ON events (request_id, seq);
CREATE INDEX IF NOT EXISTS events_at ON events (at);
-- The outbox: undelivered events in the order Claim takes them, and leases
-- by their end, for Wake. Early stage-one builds had a single index,
-- events_due (next_attempt_at), in place of events_outbox; a database they
-- created still has it.
DROP INDEX IF EXISTS events_due;
CREATE INDEX IF NOT EXISTS events_outbox ON events (next_attempt_at, seq) WHERE delivered_at IS NULL;
CREATE INDEX IF NOT EXISTS events_leased ON events (lease_until) WHERE delivered_at IS NULL AND lease_until IS NOT NULL;
