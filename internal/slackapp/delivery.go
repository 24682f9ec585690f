package slackapp

import (
	"context"
	"errors"

	"github.com/slack-go/slack"
	"go.uber.org/zap"

	"github.com/share-bucket/share-bucket/internal/approval"
)

// undeliverable are Slack's answers to a DM that no retry can change,
// with what they mean for the approvers: the person cannot get DMs from
// the bot, or Slack refuses the message itself. Anything else (rate
// limits that outlasted Web's retries, Slack's own errors, the network,
// a token being replaced) may pass, so it is retried.
var undeliverable = map[string]string{
	"user_disabled":         "the requester's Slack account is deactivated",
	"user_not_found":        "Slack does not know the requester",
	"user_not_visible":      "the requester is not visible to the bot",
	"cannot_dm_bot":         "the requester is a bot user, which cannot get DMs",
	"channel_not_found":     "Slack has no DM with the requester that the bot may post in",
	"is_archived":           "the DM with the requester is archived",
	"not_in_channel":        "the bot is not in the DM with the requester",
	"messages_tab_disabled": "the app's Messages tab is turned off, so it cannot send DMs",
	"restricted_action":     "a workspace setting keeps the bot from posting there",
	"invalid_blocks":        "Slack refused the message's layout",
	"invalid_blocks_format": "Slack refused the message's layout",
	"msg_too_long":          "Slack refused the message as too long",
	"msg_blocks_too_long":   "Slack refused the message as too long",
	"no_text":               "Slack refused the message as empty",
}

// deliveryError turns the failure of a DM to the requester into what the
// domain settles notices by: a *approval.DeliveryError with Slack's code,
// permanent for the codes in undeliverable and temporary otherwise.
func deliveryError(err error) error {
	if err == nil {
		return nil
	}
	code := errorCode(err)
	if reason, ok := undeliverable[code]; ok {
		return &approval.DeliveryError{Code: code, Reason: reason, Err: err}
	}
	reason := "Slack answered with an error"
	switch {
	case errors.As(err, new(*slack.RateLimitedError)):
		code, reason = "ratelimited", "Slack kept asking to slow down"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		code, reason = "timeout", "Slack did not answer in time"
	case code == "other":
		code, reason = "unreachable", "Slack could not be reached"
	}
	return &approval.DeliveryError{Code: code, Reason: reason, Temporary: true, Err: err}
}

// dmRequester is postDM for the requester of a request, whose failures
// the domain settles by their kind: it returns *approval.DeliveryError.
func (n *Notifier) dmRequester(ctx context.Context, user, text string, blocks []slack.Block) (string, string, error) {
	ch, ts, err := n.postDM(ctx, user, text, blocks)
	err = deliveryError(err)
	if de, ok := errors.AsType[*approval.DeliveryError](err); ok && !de.Temporary {
		n.log().Warn("DM to the requester refused for good", zap.String("user_id", user), zap.String("code", de.Code))
	}
	return ch, ts, err
}

// approverUnreachable passes on err, a failed DM to approver a, unless no
// retry can deliver it (a deactivated approver): that one is logged and
// dropped, so the others' messages and the request's later notices (they
// wait for this one) are not held up retrying it.
func (n *Notifier) approverUnreachable(a string, err error) error {
	de, ok := errors.AsType[*approval.DeliveryError](deliveryError(err))
	if err == nil || !ok || de.Temporary {
		return err
	}
	n.log().Warn("approver cannot get DMs; skipped", zap.String("user_id", a), zap.String("code", de.Code))
	return nil
}
