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
	// RevokeSessions says whether grants ended early have their sessions
	// cut, for the wording of what stays open.
	RevokeSessions bool
	Log            *zap.Logger
}

var _ approval.Notifier = (*Notifier)(nil)

// Notify implements approval.Notifier. Idempotent steps (updates) run
// before the one that is not (a new DM), so a retry after a failure does
// not post twice.
func (n *Notifier) Notify(ctx context.Context, notice approval.Notice) error {
	r, ev := notice.Request, notice.Event
	// Not idempotent, so first: a retry after a later failure does not
	// carry the cut-off again (the deny list is then already written).
	if !notice.Cutoff.IsZero() {
		if err := n.toApprovers(ctx, CutoffNotice(notice.Cutoff)); err != nil {
			return err
		}
	}
	if ev.Kind == approval.EventCutLifted {
		return nil
	}
	var errs []error
	if ev.Kind == approval.EventRequested {
		errs = append(errs, n.announce(ctx, notice))
	} else {
		errs = append(errs, n.updateApprovals(ctx, r))
	}
	switch ev.Kind {
	case approval.EventExpired, approval.EventRevoked, approval.EventFailed, approval.EventCutSessions:
		errs = append(errs, n.updateGrants(ctx, r))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}

	switch {
	case ev.Kind == approval.EventApproved && len(r.MessagesOf(approval.MessageGrant)) == 0:
		text, blocks := GrantMessage(r, notice.Link, notice.LinkErr, n.MaxSession)
		ch, ts, err := n.dmRequester(ctx, r.Requester, text, blocks)
		if err != nil {
			return err
		}
		return n.remember(ctx, notice, approval.MessageRef{Kind: approval.MessageGrant, Channel: ch, TS: ts})
	default:
		if text := Notice(ev, r, n.MaxSession, n.RevokeSessions); text != "" {
			if _, _, err := n.dmRequester(ctx, r.Requester, text, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// announce posts the request to the approval channel, or to each approver
// other than the requester, skipping any that already have it.
func (n *Notifier) announce(ctx context.Context, notice approval.Notice) error {
	r := notice.Request
	text, blocks := ApprovalMessage(r, n.Required)
	post := func(channel string) error {
		ch, ts, err := n.Web.Post(ctx, channel, text, blocks)
		if err != nil {
			return fmt.Errorf("announce %s in %s: %w", r.ID, channel, err)
		}
		return n.remember(ctx, notice, approval.MessageRef{Kind: approval.MessageApproval, Channel: ch, TS: ts})
	}
	if n.Channel != "" {
		if len(r.MessagesOf(approval.MessageApproval)) > 0 {
			return nil
		}
		return post(n.Channel)
	}
	var errs []error
	for _, a := range n.Approvers {
		if a == r.Requester {
			continue
		}
		dm, err := n.Web.DM(ctx, a)
		if err != nil {
			errs = append(errs, n.approverUnreachable(a, fmt.Errorf("announce %s to %s: %w", r.ID, a, err)))
			continue
		}
		if !r.HasMessageIn(dm) {
			errs = append(errs, n.approverUnreachable(a, post(dm)))
		}
	}
	return errors.Join(errs...)
}

// toApprovers posts text in the approval channel, or to each approver by
// DM when there is none.
func (n *Notifier) toApprovers(ctx context.Context, text string) error {
	if n.Channel != "" {
		_, _, err := n.Web.Post(ctx, n.Channel, text, nil)
		return err
	}
	var errs []error
	for _, a := range n.Approvers {
		if _, _, err := n.postDM(ctx, a, text, nil); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
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

// remember stores ref through the notice, so that clicks on the message
// are recognised and later notices update it.
func (n *Notifier) remember(ctx context.Context, notice approval.Notice, ref approval.MessageRef) error {
	if err := notice.Remember(ctx, ref); err != nil {
		return err
	}
	n.log().Debug("message remembered", zap.String("request_id", notice.Request.ID), zap.String("kind", string(ref.Kind)),
		zap.String("channel", ref.Channel), zap.String("ts", ref.TS))
	return nil
}

func (n *Notifier) log() *zap.Logger {
	if n.Log == nil {
		return zap.NewNop()
	}
	return n.Log
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
