package sqlstoretest

// stageOneSchema is the schema stage-one share-bucket created on every
// start, copied verbatim from sqlstore/schema.go at commit 533ea01, the
// last before versioned migrations. It must never change: it is what the
// databases already deployed hold, and the upgrade tests start from it.
// Stage one replaced {{AutoID}} with the dialect's AutoID.
var stageOneSchema = []string{
	`CREATE TABLE IF NOT EXISTS requests (
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
	)`,
	`CREATE INDEX IF NOT EXISTS requests_next_due ON requests (next_due, id) WHERE next_due IS NOT NULL`,
	`CREATE INDEX IF NOT EXISTS requests_requester ON requests (requester, created_at)`,
	`CREATE INDEX IF NOT EXISTS requests_state ON requests (state, created_at)`,

	`CREATE TABLE IF NOT EXISTS messages (
		id         {{AutoID}},
		request_id TEXT NOT NULL REFERENCES requests (id),
		kind       TEXT NOT NULL,
		channel    TEXT NOT NULL,
		ts         TEXT NOT NULL,
		UNIQUE (request_id, channel, ts)
	)`,

	`CREATE TABLE IF NOT EXISTS events (
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
	)`,
	// A request's events, for Audit and for finding the oldest undelivered
	// one (Claim, Wake): a request has a handful.
	`CREATE INDEX IF NOT EXISTS events_request ON events (request_id, seq)`,
	`CREATE INDEX IF NOT EXISTS events_at ON events (at)`,
	// The outbox: undelivered events in the order Claim takes them, and
	// leases by their end, for Wake.
	`DROP INDEX IF EXISTS events_due`,
	`CREATE INDEX IF NOT EXISTS events_outbox ON events (next_attempt_at, seq) WHERE delivered_at IS NULL`,
	`CREATE INDEX IF NOT EXISTS events_leased ON events (lease_until) WHERE delivered_at IS NULL AND lease_until IS NOT NULL`,
}

// earlyStageOne turns a stage-one schema into the one that builds before
// commit a59be13 left: a single outbox index, events_due, where later
// builds have events_outbox and events_leased (commit 93584f7, schema.go).
var earlyStageOne = []string{
	`DROP INDEX events_outbox`,
	`DROP INDEX events_leased`,
	`CREATE INDEX IF NOT EXISTS events_due ON events (next_attempt_at) WHERE delivered_at IS NULL`,
}
