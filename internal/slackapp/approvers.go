package slackapp

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"go.uber.org/zap"

	"github.com/share-bucket/share-bucket/internal/approval"
)

var groupIDRE = regexp.MustCompile(`^S[A-Z0-9]{2,20}$`)

// ValidGroupID reports whether id has the shape of a Slack user group ID.
func ValidGroupID(id string) bool { return groupIDRE.MatchString(id) }

// groupAPI is the part of *slack.Client that reads user groups.
type groupAPI interface {
	GetUserGroupMembersContext(ctx context.Context, group string, options ...slack.GetUserGroupMembersOption) ([]string, error)
}

// Approvers are the users who may decide on requests: those APPROVERS
// names, and the members of the user groups it names, as Slack last said.
// Members are read at start, every Refresh, and again (at most every
// MinRefresh) when someone not known as an approver clicks Approve or
// Deny, and when a member through a group decides, so a person taken out
// of a group cannot approve a moment later. It implements
// approval.ApproverSource and is safe for concurrent use.
type Approvers struct {
	Users  []string // user IDs named directly
	Groups []string // user group IDs
	API    groupAPI
	Log    *zap.Logger
	// Refresh is how often every group is read again. Zero means 5
	// minutes.
	Refresh time.Duration
	// MinRefresh bounds how often a group is read on a click. Zero means
	// 5 seconds.
	MinRefresh time.Duration

	mu      sync.Mutex
	members map[string][]string  // group → members, as last read
	read    map[string]time.Time // group → when last read
}

var _ approval.ApproverSource = (*Approvers)(nil)

// Approvers returns the approvers now: the users named, then the members
// of the groups, each once.
func (a *Approvers) Approvers() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := slices.Clone(a.Users)
	for _, g := range a.Groups {
		for _, u := range a.members[g] {
			if !slices.Contains(out, u) {
				out = append(out, u)
			}
		}
	}
	return out
}

// Load reads every group now. It returns an error naming each group that
// could not be read; groups that could keep their members.
func (a *Approvers) Load(ctx context.Context) error {
	var errs []error
	for _, g := range a.Groups {
		if err := a.read1(ctx, g); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Run reads the groups again every Refresh until ctx ends, warning about
// groups that cannot be read (their last members are kept).
func (a *Approvers) Run(ctx context.Context) {
	if len(a.Groups) == 0 {
		return
	}
	every := a.Refresh
	if every == 0 {
		every = 5 * time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := a.Load(ctx); err != nil && ctx.Err() == nil {
				a.log().Warn("APPROVERS: cannot read a user group; keeping its last known members", zap.Error(err))
			}
		}
	}
}

// Confirm makes sure the approvers are current for a decision by user:
// unless user is named directly, the groups are read again (at most every
// MinRefresh), so that someone who joined a group may decide at once and
// someone who left may not.
func (a *Approvers) Confirm(ctx context.Context, user string) {
	if len(a.Groups) == 0 || slices.Contains(a.Users, user) {
		return
	}
	minAge := a.MinRefresh
	if minAge == 0 {
		minAge = 5 * time.Second
	}
	for _, g := range a.Groups {
		a.mu.Lock()
		fresh := time.Since(a.read[g]) < minAge
		a.mu.Unlock()
		if fresh {
			continue
		}
		if err := a.read1(ctx, g); err != nil {
			a.log().Warn("APPROVERS: cannot read a user group; keeping its last known members", zap.Error(err))
		}
	}
}

func (a *Approvers) read1(ctx context.Context, group string) error {
	members, err := a.API.GetUserGroupMembersContext(ctx, group)
	if err != nil {
		return fmt.Errorf("user group %s: %w", group, withoutURL(err))
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.members == nil {
		a.members, a.read = map[string][]string{}, map[string]time.Time{}
	}
	a.members[group], a.read[group] = members, time.Now()
	return nil
}

func (a *Approvers) log() *zap.Logger {
	if a.Log == nil {
		return zap.NewNop()
	}
	return a.Log
}
