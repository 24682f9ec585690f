package main

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/share-bucket/share-bucket/internal/approval"
	"github.com/share-bucket/share-bucket/internal/federation"
	"github.com/share-bucket/share-bucket/internal/slackapp"
)

// Config is the whole environment contract. The Slack and AWS parts belong
// to their packages; the rules of approval and the process settings live
// here. Names are exactly those of the README's table.
type Config struct {
	SlackConfig
	AWSConfig

	Approvers         userList  `envconfig:"APPROVERS" required:"true" desc:"comma-separated Slack user IDs (U…) who may approve or deny requests"`
	AllowedBuckets    allowList `envconfig:"ALLOWED_BUCKETS" required:"true" desc:"comma-separated buckets that may be shared: bucket (all of it) or bucket/folder/ (that folder and below)"`
	ApprovalsRequired int       `envconfig:"APPROVALS_REQUIRED" default:"1" desc:"distinct approvers needed to approve a request"`
	DefaultDuration   duration  `envconfig:"DEFAULT_DURATION" default:"1h" desc:"grant length when a request names none (15m, 2h, 1h30m, 1d)"`
	MaxDuration       duration  `envconfig:"MAX_DURATION" default:"12h" desc:"longest grant a request may ask for (at most 12h)"`
	ExpiryWarning     duration  `envconfig:"EXPIRY_WARNING" default:"10m" desc:"how long before the end the requester is warned (0 for no warning)"`
	ApprovalTimeout   duration  `envconfig:"APPROVAL_TIMEOUT" default:"8h" desc:"undecided requests expire after this"`
	DatabaseURL       string    `envconfig:"DATABASE_URL" default:"sqlite:share-bucket.db" desc:"store: sqlite:PATH (one replica) or postgres://… (several replicas)"`
	HTTPAddr          string    `envconfig:"HTTP_ADDR" default:":8080" desc:"address for /healthz, /readyz and /metrics"`
	LogLevel          string    `envconfig:"LOG_LEVEL" default:"info" desc:"debug, info, warn or error"`
}

// Aliases give the embedded configs distinct field names; embedding keeps
// envconfig from prefixing their variables.
type (
	SlackConfig = slackapp.Config
	AWSConfig   = federation.Config
)

// maxGrant is the longest grant this bot will hand out. It also bounds how
// long a console session made from one grant can be.
const maxGrant = 12 * time.Hour

// Validate checks the settings together. Errors name the variable to fix;
// warnings are setups that run but surprise.
func (c *Config) Validate() (warnings []string, err error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if err := c.SlackConfig.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.AWSConfig.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(c.Approvers) == 0 {
		bad("APPROVERS: no approvers given; list the Slack user IDs (U…) who may approve")
	}
	if len(c.AllowedBuckets) == 0 {
		bad("ALLOWED_BUCKETS: no buckets given")
	}
	if c.ApprovalsRequired < 1 {
		bad("APPROVALS_REQUIRED: must be at least 1")
	} else if len(c.Approvers) > 0 && c.ApprovalsRequired > len(c.Approvers) {
		bad("APPROVALS_REQUIRED: %d approvals needed but APPROVERS lists only %d", c.ApprovalsRequired, len(c.Approvers))
	}
	maxDur, def := time.Duration(c.MaxDuration), time.Duration(c.DefaultDuration)
	switch {
	case maxDur < approval.MinSession:
		bad("MAX_DURATION: %s is shorter than the shortest AWS session (15m)", maxDur)
	case maxDur > maxGrant:
		bad("MAX_DURATION: %s is longer than 12h, the longest grant share-bucket hands out", maxDur)
	}
	if def < approval.MinSession || def > maxDur {
		bad("DEFAULT_DURATION: %s must be between 15m and MAX_DURATION (%s)", def, maxDur)
	}
	if w := time.Duration(c.ExpiryWarning); w < 0 || w >= maxDur {
		bad("EXPIRY_WARNING: %s must be at least 0 and shorter than MAX_DURATION (%s)", w, maxDur)
	}
	if t := time.Duration(c.ApprovalTimeout); t <= 0 {
		bad("APPROVAL_TIMEOUT: %s must be positive", t)
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, strings.ToLower(c.LogLevel)) {
		bad("LOG_LEVEL: %q is not one of debug, info, warn, error", c.LogLevel)
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		bad("HTTP_ADDR: %q is not host:port (like :8080)", c.HTTPAddr)
	}
	if _, _, err := storeKind(c.DatabaseURL); err != nil {
		errs = append(errs, err)
	}

	if c.MaxSessionDuration > time.Hour {
		warnings = append(warnings, "MAX_SESSION_DURATION is over 1h: that only works when the bot runs with long-term IAM user keys and the role's MaxSessionDuration allows it; with role credentials (EC2, ECS, Lambda, SSO) AWS caps chained sessions at 1h")
	}
	if n := len(c.Approvers); n > 0 && n <= c.ApprovalsRequired {
		warnings = append(warnings, fmt.Sprintf("APPROVERS lists %d people and APPROVALS_REQUIRED is %d: an approver's own requests can never be approved, since nobody approves their own", n, c.ApprovalsRequired))
	}
	return warnings, errors.Join(errs...)
}

// Policy builds the approval rules.
func (c *Config) Policy() approval.Policy {
	return approval.Policy{
		Approvers:         c.Approvers,
		ApprovalsRequired: c.ApprovalsRequired,
		Allowed:           approval.AllowList(c.AllowedBuckets),
		MaxDuration:       time.Duration(c.MaxDuration),
		ExpiryWarning:     time.Duration(c.ExpiryWarning),
		ApprovalTimeout:   time.Duration(c.ApprovalTimeout),
		MaxSession:        c.MaxSessionDuration,
	}
}

var userIDRE = regexp.MustCompile(`^[UW][A-Z0-9]{2,20}$`)

// userList is a comma-separated list of Slack user IDs.
type userList []string

// Decode implements envconfig.Decoder.
func (l *userList) Decode(s string) error {
	*l = nil
	for _, part := range strings.Split(s, ",") {
		id := strings.TrimSpace(part)
		if id == "" {
			continue
		}
		if !userIDRE.MatchString(id) {
			return fmt.Errorf("%q is not a Slack user ID (like U0123ABCD; find it in the user's profile → ⋮ → Copy member ID)", id)
		}
		if !slices.Contains(*l, id) {
			*l = append(*l, id)
		}
	}
	return nil
}

// allowList is a comma-separated list of bucket or bucket/folder/ entries.
type allowList approval.AllowList

// Decode implements envconfig.Decoder.
func (l *allowList) Decode(s string) error {
	*l = nil
	for _, part := range strings.Split(s, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		e, err := approval.ParseAllowEntry(part)
		if err != nil {
			return err
		}
		*l = append(*l, e)
	}
	return nil
}

// duration accepts Go durations (90m, 1h30m) and the users' form with
// days (1d).
type duration time.Duration

// Decode implements envconfig.Decoder.
func (d *duration) Decode(s string) error {
	if v, err := time.ParseDuration(strings.TrimSpace(s)); err == nil {
		*d = duration(v)
		return nil
	}
	v, err := slackapp.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration (like 15m, 2h, 1h30m, 1d)", s)
	}
	*d = duration(v)
	return nil
}
