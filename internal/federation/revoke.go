package federation

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/share-bucket/share-bucket/internal/approval"
)

// RevokedPolicyName is the name of the inline policy on the collaborator
// role that cuts the sessions of ended grants.
const RevokedPolicyName = "share-bucket-revoked"

// MaxRolePolicySize is IAM's limit on the aggregate size of all inline
// policies of one role: 10,240 characters, whitespace not counted (IAM User
// Guide, "IAM and AWS STS quotas": "Role policy size cannot exceed 10,240
// characters … IAM does not count white space"; GetAccountSummary calls it
// RolePolicySizeQuota, "in non-whitespace characters"). Past it,
// PutRolePolicy fails with 409 LimitExceeded "Maximum policy size of 10240
// bytes exceeded for role …".
const MaxRolePolicySize = 10240

// RequestIDTag is the session tag that carries a grant's request ID; every
// session Issue mints has it.
const RequestIDTag = "request-id"

// Sids of the two statements of share-bucket-revoked. IAM allows only
// letters and digits in a Sid.
const (
	revokedGrantsSid = "RevokedGrants"
	cutoffSid        = "IssuedBeforeCutoff"
)

// cutoffLayout renders a cut-off for aws:TokenIssueTime: ISO 8601 in UTC to
// the second, the form AWS's own "Revoke active sessions" policy uses.
const cutoffLayout = "2006-01-02T15:04:05Z"

type revokedDoc struct {
	Version   string          `json:"Version"`
	Statement []denyStatement `json:"Statement"`
}

type denyStatement struct {
	Sid       string                    `json:"Sid"`
	Effect    string                    `json:"Effect"`
	Action    string                    `json:"Action"`
	Resource  string                    `json:"Resource"`
	Condition map[string]map[string]any `json:"Condition"`
}

// RevokedPolicy returns the minified share-bucket-revoked document:
//
//   - with ids, a statement that denies every action on every resource to
//     sessions whose aws:PrincipalTag/request-id equals one of them
//     (StringEquals; a session without the tag does not match, which is why
//     the role's permissions boundary must deny such sessions);
//   - with a cut-off, a statement that denies everything to sessions whose
//     aws:TokenIssueTime is before the first whole second after cutoff
//     (DateLessThan), so a session issued during cutoff's second, even
//     later in it, is cut too.
//
// The IDs are sorted and deduplicated, so the same IDs and cut-off always
// give the same bytes and replicas converge. It returns an error for an ID
// that is not a request ID, or when there is nothing to deny.
func RevokedPolicy(ids []string, cutoff time.Time) (string, error) {
	ids, err := cleanIDs(ids)
	if err != nil {
		return "", err
	}
	if len(ids) == 0 && cutoff.IsZero() {
		return "", errors.New("federation: a revocation policy needs request IDs or a cut-off")
	}
	return renderRevoked(ids, cutoff), nil
}

// renderRevoked renders clean ids and cutoff.
func renderRevoked(ids []string, cutoff time.Time) string {
	doc := revokedDoc{Version: "2012-10-17"}
	if len(ids) > 0 {
		doc.Statement = append(doc.Statement, denyStatement{
			Sid: revokedGrantsSid, Effect: "Deny", Action: "*", Resource: "*",
			Condition: map[string]map[string]any{"StringEquals": {"aws:PrincipalTag/" + RequestIDTag: ids}},
		})
	}
	if !cutoff.IsZero() {
		doc.Statement = append(doc.Statement, denyStatement{
			Sid: cutoffSid, Effect: "Deny", Action: "*", Resource: "*",
			Condition: map[string]map[string]any{"DateLessThan": {"aws:TokenIssueTime": CutoffValue(cutoff)}},
		})
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	// The document holds only strings we made and checked: encoding
	// cannot fail.
	_ = enc.Encode(doc)
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

// CutoffValue returns the aws:TokenIssueTime value RevokedPolicy writes for
// cutoff: the first whole second after cutoff's second, in UTC. AWS's clock
// (the Date header) has whole seconds and truncates, so "now" may be up to
// a second later than it says; rounding up cuts every session issued in
// that second.
func CutoffValue(cutoff time.Time) string {
	return cutoff.UTC().Truncate(time.Second).Add(time.Second).Format(cutoffLayout)
}

// cleanIDs checks, sorts and deduplicates request IDs.
func cleanIDs(ids []string) ([]string, error) {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !approval.ValidID(id) {
			return nil, fmt.Errorf("federation: %q is not a request ID", id)
		}
		out = append(out, id)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// PolicySize returns the size IAM counts for a policy document towards
// MaxRolePolicySize: its characters, not counting whitespace (space, tab,
// line feed and carriage return, the whitespace a policy may hold).
func PolicySize(doc string) int {
	n := 0
	for _, r := range doc {
		switch r {
		case ' ', '\t', '\n', '\r':
		default:
			n++
		}
	}
	return n
}

// perID is what each request ID after the first adds to the document:
// ,"XXXXXXXXXX" (13 characters).
const perID = 13

// RevokedCapacity returns how many request IDs share-bucket-revoked can
// list when the role's other inline policies take otherSize characters (as
// PolicySize counts), with or without a cut-off statement beside them.
func RevokedCapacity(otherSize int, withCutoff bool) int {
	var cutoff time.Time
	if withCutoff {
		cutoff = time.Unix(0, 0)
	}
	one := PolicySize(renderRevoked([]string{"AAAAAAAAAA"}, cutoff))
	room := MaxRolePolicySize - otherSize - one
	if room < 0 {
		return 0
	}
	return 1 + room/perID
}

// Revocation is what share-bucket-revoked holds after Apply, for the caller
// to record.
type Revocation struct {
	// IDs are the request IDs the policy denies, sorted; none after a
	// fallback.
	IDs []string
	// Cutoff is the cut-off the policy holds (zero: none): sessions issued
	// up to the end of its second are denied. After a fallback it is AWS's
	// time, read from IAM's Date header.
	Cutoff time.Time
	// Fallback is true when the IDs did not fit beside the role's other
	// inline policies, so one write replaced the list with a role-wide
	// cut-off at AWS's current time: every session issued before it stops,
	// live grants included, whose holders need a fresh link.
	Fallback bool
	// Deleted is true when there was nothing to deny and the policy was
	// deleted (or did not exist).
	Deleted bool
	// Document is the document written; "" when deleted.
	Document string
	// Size is Document's size as IAM counts it; OtherSize that of the
	// role's other inline policies together.
	Size      int
	OtherSize int
}

// errNoTime means a fallback was needed but there was no AWS time to cut
// at.
var errNoTime = errors.New("federation: no AWS time for a cut-off")

// errNoRoom means the role's other inline policies leave no room even for
// a cut-off.
var errNoRoom = errors.New("federation: the role's other inline policies leave no room for share-bucket-revoked")

// PlanRevocation decides what share-bucket-revoked should hold, given the
// request IDs of ended grants whose sessions may still be live, the
// cut-off already in force (zero if none), the size of the role's other
// inline policies, and AWS's current time:
//
//   - nothing to deny: delete the policy;
//   - the IDs (and the cut-off) fit: list them;
//   - they do not fit: a fallback, a cut-off at now (or at the cut-off in
//     force if that is later) and no IDs, in one document.
//
// now is needed only for a fallback; without it the fallback fails. The
// fallback also fails when the other policies leave no room for even the
// cut-off.
func PlanRevocation(ids []string, cutoff time.Time, otherSize int, now time.Time) (Revocation, error) {
	ids, err := cleanIDs(ids)
	if err != nil {
		return Revocation{}, err
	}
	if len(ids) == 0 && cutoff.IsZero() {
		return Revocation{Deleted: true, OtherSize: otherSize}, nil
	}
	doc := renderRevoked(ids, cutoff)
	if size := PolicySize(doc); otherSize+size <= MaxRolePolicySize {
		return Revocation{IDs: ids, Cutoff: cutoff, Document: doc, Size: size, OtherSize: otherSize}, nil
	}
	return planFallback(cutoff, otherSize, now)
}

// planFallback is the fallback of PlanRevocation.
func planFallback(cutoff time.Time, otherSize int, now time.Time) (Revocation, error) {
	// A cut-off renders to the same size whatever its time, so room is
	// checked first: no clock can help a role without room.
	if otherSize+PolicySize(renderRevoked(nil, time.Unix(0, 0))) > MaxRolePolicySize {
		return Revocation{}, errNoRoom
	}
	if now.IsZero() {
		return Revocation{}, errNoTime
	}
	if cutoff.After(now) {
		now = cutoff
	}
	doc := renderRevoked(nil, now)
	size := PolicySize(doc)
	return Revocation{Cutoff: now, Fallback: true, Document: doc, Size: size, OtherSize: otherSize}, nil
}
