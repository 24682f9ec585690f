package approval

import (
	"slices"
	"time"
)

// Bounds that AWS sets rather than configuration.
const (
	// MinSession is the shortest session STS issues, so also the shortest
	// grant and the least time that must be left to mint a fresh link.
	MinSession = 15 * time.Minute
	// MaxSession is the longest session STS issues (a role's
	// MaxSessionDuration is at most 12h).
	MaxSession = 12 * time.Hour
	// MaxGrant is the longest grant a request may ask for; MAX_DURATION
	// is at most this.
	MaxGrant = 12 * time.Hour
	// CutMargin keeps a grant on the deny list this long after its last
	// session ends: clocks differ a little, and the cloud applies a new
	// deny list only after a few seconds.
	CutMargin = 5 * time.Minute
	// MaxReasonLen bounds the free-text reason.
	MaxReasonLen = 500
)

// Policy holds the rules a deployment configures.
type Policy struct {
	Approvers         []string // chat user IDs
	ApprovalsRequired int      // distinct approvers needed; at least 1
	Allowed           AllowList
	MaxDuration       time.Duration
	ExpiryWarning     time.Duration // how long before the end to warn; 0 for never
	ApprovalTimeout   time.Duration
	MaxSession        time.Duration // longest single STS session
	// RevokeSessions cuts the live sessions of a grant that ends early,
	// through the Service's Cutter.
	RevokeSessions bool
	// MaxExtended bounds a grant with all its extensions; zero means
	// MaxDuration (no extension beyond it).
	MaxExtended time.Duration
	// ApprovalReminder is how long an undecided request or extension
	// waits before the approvers are reminded, and again between
	// reminders; zero means never.
	ApprovalReminder time.Duration
	// MaxPending is how many undecided requests one requester may have
	// at once, the same request again getting the pending one back. Zero
	// turns both flood limits off.
	MaxPending int
}

func (p Policy) maxExtended() time.Duration { return max(p.MaxExtended, p.MaxDuration) }

// IsApprover reports whether user may decide on requests.
func (p Policy) IsApprover(user string) bool { return slices.Contains(p.Approvers, user) }

// required returns the number of approvals needed, at least one.
func (p Policy) required() int { return max(1, p.ApprovalsRequired) }

// eligible counts the approvers who could decide on a request by requester.
func (p Policy) eligible(requester string) int {
	n := 0
	for _, a := range p.Approvers {
		if a != requester {
			n++
		}
	}
	return n
}
