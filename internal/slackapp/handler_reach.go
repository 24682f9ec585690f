package slackapp

import (
	"context"
	"errors"

	"github.com/slack-go/slack"
	"go.uber.org/zap"

	"github.com/share-bucket/share-bucket/internal/approval"
)

// linkCommand answers /share-bucket link ID: a fresh link for the
// requester of an active grant, by the rules of the fresh-link buttons
// (the service's), in a reply through the command's response_url, which
// only the person who typed it sees.
func (a *App) linkCommand(ctx context.Context, log *zap.Logger, cmd slack.SlashCommand, id string) {
	log = log.With(zap.String("request_id", id))
	link, r, err := a.Service.Link(ctx, id, cmd.UserID)
	if err != nil {
		a.logRefusal(log, "link", err)
		a.respond(ctx, log, cmd.ResponseURL, LinkRefusal(r, err))
		return
	}
	a.Metrics.LinksMinted.Inc()
	text, blocks := FreshLinkMessage(r, link)
	if err := a.Web.RespondBlocks(ctx, cmd.ResponseURL, text, blocks); err != nil {
		log.Error("send fresh link", zap.Error(err))
		return
	}
	log.Info("fresh link sent by command", zap.Time("session_ends", link.SessionEnds))
}

// notSent counts and logs a request refused because of the requester's
// pending requests, and words the reply.
func (a *App) notSent(log *zap.Logger, id string, err error) string {
	outcome := "too_many_pending"
	if ap, ok := errors.AsType[*approval.AlreadyPendingError](err); ok {
		outcome = "already_pending"
		log = log.With(zap.String("pending_id", ap.Request.ID))
	}
	a.Metrics.Requests.WithLabelValues(outcome).Inc()
	log.Info("request not sent: " + err.Error())
	return NotSent(id, err)
}
