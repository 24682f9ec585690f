package sqlstore

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/share-bucket/share-bucket/internal/approval"
)

// Times are stored as unix milliseconds; the zero time is NULL.

// millis returns t as unix milliseconds, or nil for the zero time.
func millis(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

// fromMillis is the inverse of millis: a UTC time, or the zero time for NULL.
func fromMillis(ms sql.NullInt64) time.Time {
	if !ms.Valid {
		return time.Time{}
	}
	return time.UnixMilli(ms.Int64).UTC()
}

// stored returns t as it reads back from the store: UTC, whole
// milliseconds.
func stored(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return time.UnixMilli(t.UnixMilli()).UTC()
}

// storedRequest returns r as it reads back from the store.
func storedRequest(r *approval.Request) *approval.Request {
	c := r.Clone()
	c.CreatedAt = stored(c.CreatedAt)
	c.TimeoutAt = stored(c.TimeoutAt)
	c.DecidedAt = stored(c.DecidedAt)
	c.EndsAt = stored(c.EndsAt)
	c.WarnAt = stored(c.WarnAt)
	c.EndedAt = stored(c.EndedAt)
	for i := range c.Approvals {
		c.Approvals[i].At = stored(c.Approvals[i].At)
	}
	return c
}

// approvalJSON is how one Approval is kept in requests.approvals.
type approvalJSON struct {
	By string `json:"by"`
	At *int64 `json:"at,omitempty"` // unix ms; absent for the zero time
}

// encodeApprovals renders approvals as JSON; nil stays "null" and an empty
// list "[]", so both read back as they were.
func encodeApprovals(as []approval.Approval) (string, error) {
	if as == nil {
		return "null", nil
	}
	out := make([]approvalJSON, len(as))
	for i, a := range as {
		out[i].By = a.By
		if !a.At.IsZero() {
			ms := a.At.UnixMilli()
			out[i].At = &ms
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return "", fmt.Errorf("encode approvals: %w", err)
	}
	return string(b), nil
}

func decodeApprovals(s string) ([]approval.Approval, error) {
	var in []approvalJSON
	if err := json.Unmarshal([]byte(s), &in); err != nil {
		return nil, fmt.Errorf("decode approvals: %w", err)
	}
	if in == nil {
		return nil, nil
	}
	out := make([]approval.Approval, len(in))
	for i, a := range in {
		out[i].By = a.By
		if a.At != nil {
			out[i].At = time.UnixMilli(*a.At).UTC()
		}
	}
	return out, nil
}

// encodeDetail renders an event's detail as JSON; a nil map stays "null".
func encodeDetail(d map[string]string) (string, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return "", fmt.Errorf("encode detail: %w", err)
	}
	return string(b), nil
}

func decodeDetail(s string) (map[string]string, error) {
	var d map[string]string
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		return nil, fmt.Errorf("decode detail: %w", err)
	}
	return d, nil
}

// eventCols are the columns scanEvent reads.
const eventCols = `seq, request_id, at, kind, actor, detail, notify, attempts`

func scanEvent(row scanner) (approval.Event, error) {
	var (
		e            approval.Event
		at           sql.NullInt64
		kind, detail string
	)
	if err := row.Scan(&e.Seq, &e.RequestID, &at, &kind, &e.Actor, &detail, &e.Notify, &e.Attempts); err != nil {
		return approval.Event{}, err
	}
	e.At, e.Kind = fromMillis(at), approval.EventKind(kind)
	var err error
	if e.Detail, err = decodeDetail(detail); err != nil {
		return approval.Event{}, fmt.Errorf("event %d: %w", e.Seq, err)
	}
	return e, nil
}
