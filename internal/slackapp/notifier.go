package slackapp

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
	Channel string
	// Approvers names the approvers as they are now, for DMs when there
	// is no approval channel.
	Approvers  approval.ApproverSource
	Required   int
	MaxSession time.Duration
	// Policy is the approval policy, to offer Extend only while it can
	// still help.
	Policy approval.Policy
	// Homes, if set, is told whose App Home an event changes.
	Homes *Homes
	// RevokeSessions says whether grants ended early have their sessions
	// cut, for the wording of what stays open.
	RevokeSessions bool
	Log            *zap.Logger
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
	defer n.touchHomes(notice)
	// Posts carry the event's sequence, so a post deferred for its
	// channel's turn keeps that turn when the event comes back.
	if ev.Seq != 0 {
		ctx = withPostKey(ctx, strconv.FormatInt(ev.Seq, 10))
	}
	// Not idempotent, so first: a retry after a later failure does not
	// carry the cut-off again (the deny list is then already written).
	if !notice.Cutoff.IsZero() {
		if err := n.toApprovers(ctx, CutoffNotice(notice.Cutoff)); err != nil {
			return err
		}
	}
	switch ev.Kind {
	case approval.EventCutLifted:
		return nil
	case approval.EventReminded:
		return n.remind(ctx, notice)
	}
	var errs []error
	switch ev.Kind {
	case approval.EventRequested:
		errs = append(errs, n.announce(ctx, notice))
	case approval.EventExtensionRequested:
		errs = append(errs, n.announceExtension(ctx, notice))
	default:
		errs = append(errs, n.updateApprovals(ctx, r), n.updateExtensions(ctx, r))
	}
	switch ev.Kind {
	case approval.EventExpired, approval.EventRevoked, approval.EventFailed, approval.EventCutSessions, approval.EventExtended:
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
	case ev.Kind == approval.EventWarned:
		text, blocks := WarningMessage(r, n.Policy.CanExtend(r))
		ch, ts, err := n.dmRequester(ctx, r.Requester, text, blocks)
		if err != nil {
			return err
		}
		return n.remember(ctx, notice, approval.MessageRef{Kind: approval.MessageWarning, Channel: ch, TS: ts})
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
	have := func(ch string) bool {
		return slices.ContainsFunc(r.MessagesOf(approval.MessageApproval), func(m approval.MessageRef) bool { return m.Channel == ch })
	}
	return n.toDeciders(ctx, r, have, post)
}

// toDeciders posts, through post, where approvers decide on r: the
// approval channel, or the DM of each approver but the requester,
// skipping those where have says the message already is.
func (n *Notifier) toDeciders(ctx context.Context, r *approval.Request, have func(channel string) bool, post func(channel string) error) error {
	if n.Channel != "" {
		if have(n.Channel) {
			return nil
		}
		return post(n.Channel)
	}
	var errs []error
	for _, a := range n.approvers() {
		if a == r.Requester {
			continue
		}
		dm, err := n.Web.DM(ctx, a)
		if err != nil {
			errs = append(errs, n.approverUnreachable(a, fmt.Errorf("DM %s about %s: %w", a, r.ID, err)))
			continue
		}
		if !have(dm) {
			errs = append(errs, n.approverUnreachable(a, post(dm)))
		}
	}
	return errors.Join(errs...)
}

func (n *Notifier) approvers() []string {
	if n.Approvers == nil {
		return nil
	}
	return n.Approvers.Approvers()
}

// toApprovers posts text in the approval channel, or to each approver by
// DM when there is none.
func (n *Notifier) toApprovers(ctx context.Context, text string) error {
	if n.Channel != "" {
		_, _, err := n.Web.Post(ctx, n.Channel, text, nil)
		return err
	}
	var errs []error
	for _, a := range n.approvers() {
		if _, _, err := n.postDM(ctx, a, text, nil); err != nil {
			errs = append(errs, n.approverUnreachable(a, err))
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

// touchHomes marks the App Homes the event changes: the requester's, and
// the approvers' while a decision is or was waiting.
func (n *Notifier) touchHomes(notice approval.Notice) {
	if n.Homes == nil || notice.Request == nil {
		return
	}
	n.Homes.Touch(notice.Request.Requester)
	switch notice.Event.Kind {
	case approval.EventRequested, approval.EventApprovalRecorded, approval.EventApproved, approval.EventDenied,
		approval.EventTimedOut, approval.EventRevoked, approval.EventExtensionRequested, approval.EventExtensionApprovalRecorded,
		approval.EventExtended, approval.EventExtensionDenied, approval.EventExtensionTimedOut, approval.EventExpired:
		n.Homes.Touch(n.approvers()...)
	}
}

// announceExtension posts the message approvers decide on the extension
// the event asks for, skipping channels that already have it.
func (n *Notifier) announceExtension(ctx context.Context, notice approval.Notice) error {
	r := notice.Request
	e := r.ExtensionNumber(extensionOf(notice.Event))
	if e == nil {
		return nil
	}
	text, blocks := ExtensionMessage(r, e, n.Required)
	have := func(ch string) bool {
		for _, m := range r.MessagesOf(approval.MessageExtension) {
			if m.Extension == e.Seq && m.Channel == ch {
				return true
			}
		}
		return false
	}
	post := func(channel string) error {
		ch, ts, err := n.Web.Post(ctx, channel, text, blocks)
		if err != nil {
			return fmt.Errorf("announce extension %d of %s in %s: %w", e.Seq, r.ID, channel, err)
		}
		return n.remember(ctx, notice, approval.MessageRef{Kind: approval.MessageExtension, Channel: ch, TS: ts, Extension: e.Seq})
	}
	return n.toDeciders(ctx, r, have, post)
}

// extensionOf returns the extension an event is about, 0 for none.
func extensionOf(ev approval.Event) int {
	seq, _ := strconv.Atoi(ev.Detail["extension"])
	return seq
}

// updateExtensions re-renders every extension message of r.
func (n *Notifier) updateExtensions(ctx context.Context, r *approval.Request) error {
	var errs []error
	for _, m := range r.MessagesOf(approval.MessageExtension) {
		e := r.ExtensionNumber(m.Extension)
		if e == nil {
			continue
		}
		text, blocks := ExtensionMessage(r, e, n.Required)
		if err := n.Web.Update(ctx, m.Channel, m.TS, text, blocks); err != nil {
			errs = append(errs, fmt.Errorf("update %s extension %d message %s/%s: %w", r.ID, e.Seq, m.Channel, m.TS, err))
		}
	}
	return errors.Join(errs...)
}

// remind reminds the approvers of an undecided request or extension: a
// reply in the thread of its message in the approval channel, or a DM to
// each approver who has not decided yet.
func (n *Notifier) remind(ctx context.Context, notice approval.Notice) error {
	r, ev := notice.Request, notice.Event
	text := Reminder(ev, r)
	seq := extensionOf(ev)
	kind, approvals := approval.MessageApproval, r.Approvals
	if seq > 0 {
		e := r.ExtensionNumber(seq)
		if e == nil || e.State != approval.StatePending {
			return nil
		}
		kind, approvals = approval.MessageExtension, e.Approvals
	} else if r.State != approval.StatePending {
		return nil
	}
	if n.Channel != "" {
		for _, m := range r.MessagesOf(kind) {
			if m.Channel == n.Channel && m.Extension == seq {
				_, _, err := n.Web.Reply(ctx, m.Channel, m.TS, text)
				return err
			}
		}
		_, _, err := n.Web.Post(ctx, n.Channel, text, nil)
		return err
	}
	var errs []error
	for _, a := range n.approvers() {
		decided := slices.ContainsFunc(approvals, func(x approval.Approval) bool { return x.By == a })
		if a == r.Requester || decided {
			continue
		}
		if _, _, err := n.postDM(ctx, a, text, nil); err != nil {
			errs = append(errs, n.approverUnreachable(a, err))
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
