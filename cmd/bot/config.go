package main

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/share-bucket/share-bucket/internal/approval"
	"github.com/share-bucket/share-bucket/internal/config"
	"github.com/share-bucket/share-bucket/internal/federation"
	"github.com/share-bucket/share-bucket/internal/slackapp"
)

// Config is the whole environment contract. The Slack and AWS parts belong
// to their packages; the rules of approval and the process settings live
// here. Names are exactly those of the README's table.
type Config struct {
	SlackConfig
	AWSConfig

	Approvers         approverList    `envconfig:"APPROVERS" required:"true" desc:"comma-separated Slack user IDs (U…) and user group IDs (S…) whose members may approve or deny requests"`
	AllowedBuckets    allowList       `envconfig:"ALLOWED_BUCKETS" required:"true" desc:"comma-separated buckets that may be shared: bucket (all of it) or bucket/folder/ (that folder and below)"`
	ApprovalsRequired config.Count    `envconfig:"APPROVALS_REQUIRED" default:"1" desc:"distinct approvers needed to approve a request"`
	DefaultDuration   config.Duration `envconfig:"DEFAULT_DURATION" default:"1h" desc:"grant length when a request names none (15m, 2h, 1h30m, 1d)"`
	MaxDuration       config.Duration `envconfig:"MAX_DURATION" default:"12h" desc:"longest grant a request may ask for (at most 12h)"`
	ExpiryWarning     config.Duration `envconfig:"EXPIRY_WARNING" default:"10m" desc:"how long before the end the requester is warned (0 for no warning)"`
	ApprovalTimeout   config.Duration `envconfig:"APPROVAL_TIMEOUT" default:"8h" desc:"undecided requests expire after this"`
	ApprovalReminder  config.Duration `envconfig:"APPROVAL_REMINDER" default:"1h" desc:"remind the approvers of an undecided request after this, and again as often (0 for never)"`
	MaxExtended       config.Duration `envconfig:"MAX_EXTENDED_DURATION" default:"24h" desc:"longest a grant may last with its extensions (at least MAX_DURATION)"`
	RevokeSessions    config.Flag     `envconfig:"REVOKE_SESSIONS" default:"true" desc:"cut the open AWS sessions of a grant ended early, through an inline policy on the collaborator role (false: they run until their own end)"`
	MaxPendingPerUser config.Count    `envconfig:"MAX_PENDING_PER_USER" default:"5" desc:"undecided requests one person may have at once; the same request again gets the pending one back"`
	DatabaseURL       string          `envconfig:"DATABASE_URL" default:"sqlite:share-bucket.db" desc:"store: sqlite:PATH (one replica) or postgres://… (several replicas)"`
	HTTPAddr          string          `envconfig:"HTTP_ADDR" default:":8080" desc:"address for /healthz, /readyz and /metrics"`
	LogLevel          string          `envconfig:"LOG_LEVEL" default:"info" desc:"debug, info, warn or error"`
}

// Aliases give the embedded configs distinct field names; embedding keeps
// envconfig from prefixing their variables.
type (
	SlackConfig = slackapp.Config
	AWSConfig   = federation.Config
)

// loadConfig reads and validates the environment. Its error lists every
// problem, one line per variable, each with its hint; checks that need a
// value that could not be read are skipped rather than reported wrongly.
func loadConfig() (*Config, []string, error) {
	var cfg Config
	loadErr := config.Load(&cfg)
	warnings, err := cfg.Validate()
	err = errors.Join(loadErr, config.Without(err, config.Failed(loadErr)))
	if err != nil {
		return nil, nil, err
	}
	return &cfg, warnings, nil
}

// Validate checks the settings together. Errors are *config.VarError,
// naming the variable to fix; warnings are setups that run but surprise.
func (c *Config) Validate() (warnings []string, err error) {
	var errs []error
	bad := func(v, format string, args ...any) { errs = append(errs, config.Problem(v, format, args...)) }
	if err := c.SlackConfig.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.AWSConfig.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Approvers.empty() {
		bad("APPROVERS", "no approvers given; list the Slack user IDs (U…) or user group IDs (S…) who may approve")
	}
	if len(c.AllowedBuckets) == 0 {
		bad("ALLOWED_BUCKETS", "no buckets given; list bucket or bucket/folder/ entries")
	}
	if c.ApprovalsRequired < 1 {
		bad("APPROVALS_REQUIRED", "must be at least 1")
	} else if n := len(c.Approvers.Users); n > 0 && len(c.Approvers.Groups) == 0 && int(c.ApprovalsRequired) > n {
		errs = append(errs, &config.VarError{Var: "APPROVALS_REQUIRED", Also: []string{"APPROVERS"},
			Msg: fmt.Sprintf("%d approvals needed but APPROVERS lists only %d", c.ApprovalsRequired, n)})
	}
	maxDur, def := time.Duration(c.MaxDuration), time.Duration(c.DefaultDuration)
	switch {
	case maxDur < approval.MinSession:
		bad("MAX_DURATION", "%s is shorter than the shortest AWS session (%s)", c.MaxDuration, approval.FormatDuration(approval.MinSession))
	case maxDur > approval.MaxGrant:
		bad("MAX_DURATION", "%s is longer than %s, the longest grant share-bucket hands out", c.MaxDuration, approval.FormatDuration(approval.MaxGrant))
	}
	if def < approval.MinSession || def > maxDur {
		errs = append(errs, &config.VarError{Var: "DEFAULT_DURATION", Also: []string{"MAX_DURATION"},
			Msg: fmt.Sprintf("%s must be between %s and MAX_DURATION (%s)", c.DefaultDuration, approval.FormatDuration(approval.MinSession), c.MaxDuration)})
	}
	if w := time.Duration(c.ExpiryWarning); w >= maxDur {
		errs = append(errs, &config.VarError{Var: "EXPIRY_WARNING", Also: []string{"MAX_DURATION"},
			Msg: fmt.Sprintf("%s must be shorter than MAX_DURATION (%s)", c.ExpiryWarning, c.MaxDuration)})
	}
	if c.ApprovalTimeout <= 0 {
		bad("APPROVAL_TIMEOUT", "%s must be more than 0", c.ApprovalTimeout)
	}
	if c.MaxExtended < c.MaxDuration {
		errs = append(errs, &config.VarError{Var: "MAX_EXTENDED_DURATION", Also: []string{"MAX_DURATION"},
			Msg: fmt.Sprintf("%s is shorter than MAX_DURATION (%s); extensions can only make a grant longer", c.MaxExtended, c.MaxDuration)})
	}
	if c.MaxPendingPerUser < 1 {
		bad("MAX_PENDING_PER_USER", "must be at least 1: with 0 nobody could ask for anything")
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, strings.ToLower(c.LogLevel)) {
		bad("LOG_LEVEL", "%q is not one of debug, info, warn, error", c.LogLevel)
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		bad("HTTP_ADDR", "%q is not host:port (like :8080)", c.HTTPAddr)
	}
	if _, _, err := storeKind(c.DatabaseURL); err != nil {
		errs = append(errs, err)
	}
	if c.Partition() != "" && len(c.AllowedBuckets) > 0 {
		var buckets []string
		for _, e := range c.AllowedBuckets {
			if !slices.Contains(buckets, e.Bucket) {
				buckets = append(buckets, e.Bucket)
			}
		}
		if err := c.AWSConfig.CheckPolicySize(buckets); err != nil {
			errs = append(errs, err)
		}
	}

	if time.Duration(c.MaxSessionDuration) > time.Hour {
		warnings = append(warnings, "MAX_SESSION_DURATION is over 1h: that only works when the bot runs with long-term IAM user keys and the role's MaxSessionDuration allows it; with role credentials (EC2, ECS, Lambda, SSO) AWS caps chained sessions at 1h")
	}
	if n := len(c.Approvers.Users); n > 0 && len(c.Approvers.Groups) == 0 && n <= int(c.ApprovalsRequired) {
		warnings = append(warnings, fmt.Sprintf("APPROVERS lists %d people and APPROVALS_REQUIRED is %d: an approver's own requests can never be approved, since nobody approves their own", n, c.ApprovalsRequired))
	}
	return warnings, errors.Join(errs...)
}

// Policy builds the approval rules.
func (c *Config) Policy() approval.Policy {
	return approval.Policy{
		Approvers:         c.Approvers.Users,
		ApprovalsRequired: int(c.ApprovalsRequired),
		Allowed:           approval.AllowList(c.AllowedBuckets),
		MaxDuration:       time.Duration(c.MaxDuration),
		ExpiryWarning:     time.Duration(c.ExpiryWarning),
		ApprovalTimeout:   time.Duration(c.ApprovalTimeout),
		MaxSession:        time.Duration(c.MaxSessionDuration),
		RevokeSessions:    bool(c.RevokeSessions),
		MaxExtended:       time.Duration(c.MaxExtended),
		ApprovalReminder:  time.Duration(c.ApprovalReminder),
		MaxPending:        int(c.MaxPendingPerUser),
	}
}

// approverList is a comma-separated list of Slack user IDs and user
// group IDs.
type approverList struct {
	Users  []string
	Groups []string
}

func (l approverList) empty() bool { return len(l.Users) == 0 && len(l.Groups) == 0 }

// Decode implements envconfig.Decoder.
func (l *approverList) Decode(s string) error {
	*l = approverList{}
	for _, part := range strings.Split(s, ",") {
		id := strings.TrimSpace(part)
		switch {
		case id == "":
		case slackapp.ValidUserID(id):
			if !slices.Contains(l.Users, id) {
				l.Users = append(l.Users, id)
			}
		case slackapp.ValidGroupID(id):
			if !slices.Contains(l.Groups, id) {
				l.Groups = append(l.Groups, id)
			}
		default:
			return config.BadValue("%q is not a Slack user ID (like U0123ABCD: the user's profile → ⋮ → Copy member ID) or user group ID (like S0123ABCD: the group's page → ⋮ → Copy group ID)", id)
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
		if ie, ok := errors.AsType[*approval.InvalidError](err); ok {
			return config.BadValue("%q: %s", strings.TrimSpace(part), ie.Reason)
		} else if err != nil {
			return config.BadValue("%q is not a bucket or bucket/folder/", strings.TrimSpace(part))
		}
		*l = append(*l, e)
	}
	return nil
}
