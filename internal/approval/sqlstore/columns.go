package sqlstore

import (
	"fmt"
	"strings"
	"time"

	"github.com/share-bucket/share-bucket/internal/approval"
)

// A requestColumn is one column of the requests table: its name, the
// value a Request stores in it, and where a read of it goes. The
// statements that write or read a whole request are built from
// requestColumns, so storing a new field of Request takes one entry there
// and a migration that adds the column.
type requestColumn struct {
	name string
	// arg returns the value r stores in the column.
	arg func(r *approval.Request) (any, error)
	// dest returns where Scan puts the column's value in r, or nil for a
	// column that is written but never read back because it derives from
	// the others.
	dest func(r *approval.Request) any
}

// requestColumns are the columns of requests. The first is the key.
var requestColumns = []requestColumn{
	text("id", func(r *approval.Request) *string { return &r.ID }),
	text("requester", func(r *approval.Request) *string { return &r.Requester }),
	text("bucket", func(r *approval.Request) *string { return &r.Bucket }),
	text("prefix", func(r *approval.Request) *string { return &r.Prefix }),
	text("access", func(r *approval.Request) *string { return (*string)(&r.Access) }),
	integer("duration_ns", func(r *approval.Request) *int64 { return (*int64)(&r.Duration) }),
	text("reason", func(r *approval.Request) *string { return &r.Reason }),
	text("state", func(r *approval.Request) *string { return (*string)(&r.State) }),
	timestamp("created_at", func(r *approval.Request) *time.Time { return &r.CreatedAt }),
	timestamp("timeout_at", func(r *approval.Request) *time.Time { return &r.TimeoutAt }),
	{
		name: "approvals",
		arg:  func(r *approval.Request) (any, error) { return encodeApprovals(r.Approvals) },
		dest: func(r *approval.Request) any { return (*approvalList)(&r.Approvals) },
	},
	text("decided_by", func(r *approval.Request) *string { return &r.DecidedBy }),
	timestamp("decided_at", func(r *approval.Request) *time.Time { return &r.DecidedAt }),
	timestamp("ends_at", func(r *approval.Request) *time.Time { return &r.EndsAt }),
	timestamp("warn_at", func(r *approval.Request) *time.Time { return &r.WarnAt }),
	boolean("warned", func(r *approval.Request) *bool { return &r.Warned }),
	text("ended_by", func(r *approval.Request) *string { return &r.EndedBy }),
	timestamp("ended_at", func(r *approval.Request) *time.Time { return &r.EndedAt }),
	text("failure", func(r *approval.Request) *string { return &r.Failure }),
	integer("version", func(r *approval.Request) *int64 { return &r.Version }),
	// next_due mirrors Request.NextDue() for the index Due and Wake walk.
	{name: "next_due", arg: func(r *approval.Request) (any, error) { return millis(r.NextDue()), nil }},
	// 0002_object_grants
	text("kind", func(r *approval.Request) *string { return (*string)(&r.Kind) }),
	text("object_key", func(r *approval.Request) *string { return &r.Key }),
	// 0003_revocations
	timestamp("sessions_end", func(r *approval.Request) *time.Time { return &r.SessionsEnd }),
	text("cut", func(r *approval.Request) *string { return (*string)(&r.Cut) }),
	timestamp("cut_until", func(r *approval.Request) *time.Time { return &r.CutUntil }),
	text("cut_error", func(r *approval.Request) *string { return &r.CutError }),
	// 0004_extensions
	{
		name: "extensions",
		arg:  func(r *approval.Request) (any, error) { return encodeExtensions(r.Extensions) },
		dest: func(r *approval.Request) any { return (*extensionList)(&r.Extensions) },
	},
	timestamp("remind_at", func(r *approval.Request) *time.Time { return &r.RemindAt }),
	{name: "extension_pending", arg: func(r *approval.Request) (any, error) { return r.PendingExtension() != nil, nil }},
	// 0005_reach
	text("undelivered", func(r *approval.Request) *string { return &r.Undelivered }),
}

// text is a TEXT column holding a string field.
func text(name string, field func(*approval.Request) *string) requestColumn {
	return requestColumn{
		name: name,
		arg:  func(r *approval.Request) (any, error) { return *field(r), nil },
		dest: func(r *approval.Request) any { return field(r) },
	}
}

// integer is a BIGINT column holding an int64 field.
func integer(name string, field func(*approval.Request) *int64) requestColumn {
	return requestColumn{
		name: name,
		arg:  func(r *approval.Request) (any, error) { return *field(r), nil },
		dest: func(r *approval.Request) any { return field(r) },
	}
}

// boolean is a BOOLEAN column holding a bool field.
func boolean(name string, field func(*approval.Request) *bool) requestColumn {
	return requestColumn{
		name: name,
		arg:  func(r *approval.Request) (any, error) { return *field(r), nil },
		dest: func(r *approval.Request) any { return field(r) },
	}
}

// timestamp is a BIGINT column of unix milliseconds holding a time field,
// NULL for the zero time.
func timestamp(name string, field func(*approval.Request) *time.Time) requestColumn {
	return requestColumn{
		name: name,
		arg:  func(r *approval.Request) (any, error) { return millis(*field(r)), nil },
		dest: func(r *approval.Request) any { return (*unixMillis)(field(r)) },
	}
}

// unixMillis scans a column written by millis.
type unixMillis time.Time

func (t *unixMillis) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*t = unixMillis{}
	case int64:
		*t = unixMillis(time.UnixMilli(v).UTC())
	default:
		return fmt.Errorf("want unix milliseconds, got %T", src)
	}
	return nil
}

// approvalList scans a column written by encodeApprovals.
type approvalList []approval.Approval

func (l *approvalList) Scan(src any) error {
	s, err := jsonText(src, "approvals")
	if err != nil {
		return err
	}
	*l, err = decodeApprovals(s)
	return err
}

// extensionList scans a column written by encodeExtensions.
type extensionList []approval.Extension

func (l *extensionList) Scan(src any) error {
	s, err := jsonText(src, "extensions")
	if err != nil {
		return err
	}
	*l, err = decodeExtensions(s)
	return err
}

// jsonText is a JSON column's text as either engine's driver returns it.
func jsonText(src any, what string) (string, error) {
	switch v := src.(type) {
	case string:
		return v, nil
	case []byte:
		return string(v), nil
	}
	return "", fmt.Errorf("want %s as JSON text, got %T", what, src)
}

// readColumns are the requestColumns read back, in the order of
// selectRequests.
var readColumns = func() []requestColumn {
	var out []requestColumn
	for _, c := range requestColumns {
		if c.dest != nil {
			out = append(out, c)
		}
	}
	return out
}()

// The statements that write and read whole requests. insertRequest and
// updateRequest bind requestArgs, $1 being the key; updateRequest also
// binds the version read, as the placeholder after them, and writes only
// if it is still the stored one.
var (
	insertRequest  = buildInsert(requestColumns)
	updateRequest  = buildUpdate(requestColumns)
	selectRequests = "SELECT " + names(readColumns) + " FROM requests"
)

func names(cols []requestColumn) string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.name
	}
	return strings.Join(out, ", ")
}

func buildInsert(cols []requestColumn) string {
	ph := make([]string, len(cols))
	for i := range cols {
		ph[i] = fmt.Sprintf("$%d", i+1)
	}
	return "INSERT INTO requests (" + names(cols) + ") VALUES (" + strings.Join(ph, ", ") + ")"
}

func buildUpdate(cols []requestColumn) string {
	set := make([]string, 0, len(cols)-1)
	for i, c := range cols[1:] {
		set = append(set, fmt.Sprintf("%s = $%d", c.name, i+2))
	}
	return fmt.Sprintf("UPDATE requests SET %s WHERE %s = $1 AND version = $%d", strings.Join(set, ", "), cols[0].name, len(cols)+1)
}

// requestArgs returns the values r stores in requestColumns, with room
// for one more.
func requestArgs(r *approval.Request) ([]any, error) {
	args := make([]any, len(requestColumns), len(requestColumns)+1)
	for i, c := range requestColumns {
		v, err := c.arg(r)
		if err != nil {
			return nil, fmt.Errorf("request %s: %s: %w", r.ID, c.name, err)
		}
		args[i] = v
	}
	return args, nil
}

type scanner interface {
	Scan(dest ...any) error
}

// scanRequest reads a row of selectRequests. Messages are left empty.
func scanRequest(row scanner) (*approval.Request, error) {
	r := new(approval.Request)
	dest := make([]any, len(readColumns))
	for i, c := range readColumns {
		dest[i] = c.dest(r)
	}
	if err := row.Scan(dest...); err != nil {
		if r.ID != "" {
			return nil, fmt.Errorf("request %s: %w", r.ID, err)
		}
		return nil, err
	}
	return r, nil
}
