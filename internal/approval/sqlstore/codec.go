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
	c.SessionsEnd = stored(c.SessionsEnd)
	c.CutUntil = stored(c.CutUntil)
	c.RemindAt = stored(c.RemindAt)
	for i := range c.Approvals {
		c.Approvals[i].At = stored(c.Approvals[i].At)
	}
	for i := range c.Extensions {
		e := &c.Extensions[i]
		e.RequestedAt, e.TimeoutAt, e.RemindAt, e.DecidedAt = stored(e.RequestedAt), stored(e.TimeoutAt), stored(e.RemindAt), stored(e.DecidedAt)
		for j := range e.Approvals {
			e.Approvals[j].At = stored(e.Approvals[j].At)
		}
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

// extensionJSON is how one Extension is kept in requests.extensions.
type extensionJSON struct {
	Seq         int            `json:"seq"`
	DurationNS  int64          `json:"duration_ns"`
	Reason      string         `json:"reason"`
	State       string         `json:"state"`
	RequestedAt *int64         `json:"requested_at,omitempty"`
	TimeoutAt   *int64         `json:"timeout_at,omitempty"`
	RemindAt    *int64         `json:"remind_at,omitempty"`
	Approvals   []approvalJSON `json:"approvals,omitempty"`
	DecidedBy   string         `json:"decided_by,omitempty"`
	DecidedAt   *int64         `json:"decided_at,omitempty"`
}

// msPtr returns t as unix milliseconds, or nil for the zero time.
func msPtr(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	ms := t.UnixMilli()
	return &ms
}

func fromMsPtr(ms *int64) time.Time {
	if ms == nil {
		return time.Time{}
	}
	return time.UnixMilli(*ms).UTC()
}

// encodeExtensions renders extensions as JSON; nil stays "null".
func encodeExtensions(es []approval.Extension) (string, error) {
	if es == nil {
		return "null", nil
	}
	out := make([]extensionJSON, len(es))
	for i, e := range es {
		out[i] = extensionJSON{
			Seq: e.Seq, DurationNS: int64(e.Duration), Reason: e.Reason, State: string(e.State),
			RequestedAt: msPtr(e.RequestedAt), TimeoutAt: msPtr(e.TimeoutAt), RemindAt: msPtr(e.RemindAt),
			DecidedBy: e.DecidedBy, DecidedAt: msPtr(e.DecidedAt),
		}
		for _, a := range e.Approvals {
			out[i].Approvals = append(out[i].Approvals, approvalJSON{By: a.By, At: msPtr(a.At)})
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return "", fmt.Errorf("encode extensions: %w", err)
	}
	return string(b), nil
}

func decodeExtensions(s string) ([]approval.Extension, error) {
	var in []extensionJSON
	if err := json.Unmarshal([]byte(s), &in); err != nil {
		return nil, fmt.Errorf("decode extensions: %w", err)
	}
	if in == nil {
		return nil, nil
	}
	out := make([]approval.Extension, len(in))
	for i, e := range in {
		out[i] = approval.Extension{
			Seq: e.Seq, Duration: time.Duration(e.DurationNS), Reason: e.Reason, State: approval.State(e.State),
			RequestedAt: fromMsPtr(e.RequestedAt), TimeoutAt: fromMsPtr(e.TimeoutAt), RemindAt: fromMsPtr(e.RemindAt),
			DecidedBy: e.DecidedBy, DecidedAt: fromMsPtr(e.DecidedAt),
		}
		for _, a := range e.Approvals {
			out[i].Approvals = append(out[i].Approvals, approval.Approval{By: a.By, At: fromMsPtr(a.At)})
		}
	}
	return out, nil
}
