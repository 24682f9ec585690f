package slackapp

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/slack-go/slack"
	"go.uber.org/zap"

	"github.com/share-bucket/share-bucket/internal/approval"
)

// Notifier tells people in Slack about request events. It is the only
// writer of the messages it posted: after every event it re-renders them
// from the request's state, so a replayed event changes nothing visible.
type Notifier struct {
	Web *Web
	// Channel receives approval requests; empty means DM every approver.
	Channel    string
	Approvers  []string
	Required   int
	MaxSession time.Duration
	Log        *zap.Logger
}

var _ approval.Notifier = (*Notifier)(nil)

// Notify implements approval.Notifier. Idempotent steps (updates) run
// before the one that is not (a new DM), so a retry after a failure does
// not post twice.
func (n *Notifier) Notify(ctx context.Context, no approval.Notice) ([]approval.MessageRef, error) {
	r, ev := no.Request, no.Event
	var refs []approval.MessageRef
	var errs []error
	if ev.Kind == approval.EventRequested {
		var err error
		refs, err = n.announce(ctx, r)
		errs = append(errs, err)
	} else {
		errs = append(errs, n.updateApprovals(ctx, r))
	}
	switch ev.Kind {
	case approval.EventExpired, approval.EventRevoked, approval.EventFailed:
		errs = append(errs, n.updateGrants(ctx, r))
	}
	if err := errors.Join(errs...); err != nil {
		return refs, err
	}

	switch {
	case ev.Kind == approval.EventApproved && len(r.MessagesOf(approval.MessageGrant)) == 0:
		text, blocks := GrantMessage(r, no.Link, no.LinkErr, n.MaxSession)
		ch, ts, err := n.postDM(ctx, r.Requester, text, blocks)
		if err != nil {
			return refs, err
		}
		refs = append(refs, approval.MessageRef{Kind: approval.MessageGrant, Channel: ch, TS: ts})
	default:
		if text := Notice(ev, r, n.MaxSession); text != "" {
			if _, _, err := n.postDM(ctx, r.Requester, text, nil); err != nil {
				return refs, err
			}
		}
	}
	return refs, nil
}

// announce posts the request to the approval channel, or to each approver
// other than the requester, skipping any that already have it.
func (n *Notifier) announce(ctx context.Context, r *approval.Request) ([]approval.MessageRef, error) {
	text, blocks := ApprovalMessage(r, n.Required)
	var refs []approval.MessageRef
	if n.Channel != "" {
		if len(r.MessagesOf(approval.MessageApproval)) > 0 {
			return nil, nil
		}
		ch, ts, err := n.Web.Post(ctx, n.Channel, text, blocks)
		if err != nil {
			return nil, fmt.Errorf("announce %s in %s: %w", r.ID, n.Channel, err)
		}
		return []approval.MessageRef{{Kind: approval.MessageApproval, Channel: ch, TS: ts}}, nil
	}
	var errs []error
	for _, a := range n.Approvers {
		if a == r.Requester {
			continue
		}
		dm, err := n.Web.DM(ctx, a)
		if err != nil {
			errs = append(errs, fmt.Errorf("announce %s to %s: %w", r.ID, a, err))
			continue
		}
		if r.HasMessageIn(dm) {
			continue
		}
		ch, ts, err := n.Web.Post(ctx, dm, text, blocks)
		if err != nil {
			errs = append(errs, fmt.Errorf("announce %s to %s: %w", r.ID, a, err))
			continue
		}
		refs = append(refs, approval.MessageRef{Kind: approval.MessageApproval, Channel: ch, TS: ts})
	}
	return refs, errors.Join(errs...)
}

// updateApprovals re-renders every approval message from r's state.
func (n *Notifier) updateApprovals(ctx context.Context, r *approval.Request) error {
	text, blocks := ApprovalMessage(r, n.Required)
	var errs []error
	for _, m := range r.MessagesOf(approval.MessageApproval) {
		if err := n.Web.Update(ctx, m.Channel, m.TS, text, blocks); err != nil {
			errs = append(errs, fmt.Errorf("update %s message %s/%s: %w", r.ID, m.Channel, m.TS, err))
		}
	}
	return errors.Join(errs...)
}

// updateGrants replaces the requester's grant DM once the grant is over,
// taking the link and buttons away.
func (n *Notifier) updateGrants(ctx context.Context, r *approval.Request) error {
	text, blocks := GrantMessage(r, nil, nil, n.MaxSession)
	var errs []error
	for _, m := range r.MessagesOf(approval.MessageGrant) {
		if err := n.Web.Update(ctx, m.Channel, m.TS, text, blocks); err != nil {
			errs = append(errs, fmt.Errorf("update %s grant DM: %w", r.ID, err))
		}
	}
	return errors.Join(errs...)
}

func (n *Notifier) postDM(ctx context.Context, user, text string, blocks []slack.Block) (string, string, error) {
	dm, err := n.Web.DM(ctx, user)
	if err != nil {
		return "", "", fmt.Errorf("DM %s: %w", user, err)
	}
	ch, ts, err := n.Web.Post(ctx, dm, text, blocks)
	if err != nil {
		return "", "", fmt.Errorf("DM %s: %w", user, err)
	}
	return ch, ts, nil
}
