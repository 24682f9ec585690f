package slackapp

import (
	"context"
	"errors"
	"fmt"
	"strconv"
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
//
// A post that Web.Wait defers (its channel's turn is far off) fails Notify
// with that error, and keeps its turn for the event's next attempt: what
// went out stays out, as with any failure.
func (n *Notifier) Notify(ctx context.Context, notice approval.Notice) error {
	r, ev := notice.Request, notice.Event
	if ev.Seq != 0 {
		ctx = withPostKey(ctx, strconv.FormatInt(ev.Seq, 10))
	}
	var errs []error
	if ev.Kind == approval.EventRequested {
		errs = append(errs, n.announce(ctx, notice))
	} else {
		errs = append(errs, n.updateApprovals(ctx, r))
	}
	switch ev.Kind {
	case approval.EventExpired, approval.EventRevoked, approval.EventFailed:
		errs = append(errs, n.updateGrants(ctx, r))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}

	switch {
	case ev.Kind == approval.EventApproved && len(r.MessagesOf(approval.MessageGrant)) == 0:
		text, blocks := GrantMessage(r, notice.Link, notice.LinkErr, n.MaxSession)
		ch, ts, err := n.postDM(ctx, r.Requester, text, blocks)
		if err != nil {
			return err
		}
		return n.remember(ctx, notice, approval.MessageRef{Kind: approval.MessageGrant, Channel: ch, TS: ts})
	default:
		if text := Notice(ev, r, n.MaxSession); text != "" {
			if _, _, err := n.postDM(ctx, r.Requester, text, nil); err != nil {
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
			errs = append(errs, fmt.Errorf("announce %s to %s: %w", r.ID, a, err))
			continue
		}
		if !r.HasMessageIn(dm) {
			errs = append(errs, post(dm))
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
