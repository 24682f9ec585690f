package slackapp

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"go.uber.org/zap"

	"github.com/share-bucket/share-bucket/internal/approval"
	"github.com/share-bucket/share-bucket/internal/metrics"
)

// App turns Slack payloads into approval.Service calls. Each handler
// returns what to ack with, computed from memory only so the ack leaves in
// microseconds, and the work to do after the ack.
type App struct {
	Service         *approval.Service
	Web             *Web
	Log             *zap.Logger
	Metrics         *metrics.Metrics
	DefaultDuration time.Duration
	// Example is a correct command shown in help and refusals.
	Example string
}

// work is what runs after the ack.
type work func(ctx context.Context)

var userIDRE = regexp.MustCompile(`^[UW][A-Z0-9]{2,20}$`)

// short bounds a payload field before it goes into a log line (zap
// escapes the rest).
func short(s string) string {
	const n = 40
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func validUserID(id string) bool { return userIDRE.MatchString(id) }

func ephemeral(text string) map[string]any {
	return map[string]any{"response_type": "ephemeral", "text": text}
}

// Slash handles a /share-bucket invocation.
func (a *App) Slash(cmd slack.SlashCommand) (any, work) {
	log := a.Log.With(zap.String("user_id", short(cmd.UserID)))
	if !validUserID(cmd.UserID) {
		log.Warn("slash command with a malformed user ID")
		a.Metrics.Requests.WithLabelValues("refused").Inc()
		return ephemeral("Sorry, share-bucket could not tell who you are."), nil
	}
	c, err := ParseCommand(cmd.Text, a.DefaultDuration)
	if err != nil {
		log.Info("refused command", zap.String("problem", err.Error()))
		a.Metrics.Requests.WithLabelValues("refused").Inc()
		return ephemeral(Usage(err.Error(), a.Example)), nil
	}
	switch c.Kind {
	case CmdHelp:
		return ephemeral(Help(a.Example, a.DefaultDuration, a.Service.Policy.MaxDuration)), nil
	case CmdModal:
		return nil, func(ctx context.Context) { a.openModal(ctx, log, cmd.TriggerID) }
	case CmdList:
		return nil, func(ctx context.Context) {
			l, err := a.Service.List(ctx, cmd.UserID)
			if err != nil {
				log.Error("list requests", zap.Error(err))
			}
			a.respond(ctx, log, cmd.ResponseURL, ListingOrError(l, err))
		}
	case CmdRevoke:
		return nil, func(ctx context.Context) {
			log := log.With(zap.String("request_id", c.ID))
			r, err := a.Service.End(ctx, c.ID, cmd.UserID)
			if err != nil {
				a.logRefusal(log, "revoke", err)
				a.respond(ctx, log, cmd.ResponseURL, UserMessage(err))
				return
			}
			log.Info("ended by command")
			a.respond(ctx, log, cmd.ResponseURL, "Done: "+r.ID+" for "+scopeText(r.Scope)+" is ended.")
		}
	}

	d := approval.Draft{
		ID:        approval.NewID(seed(cmd.TeamID, cmd.TriggerID)),
		Requester: cmd.UserID,
		Scope:     c.Scope,
		Duration:  c.Duration,
		Reason:    c.Reason,
	}
	if err := a.Service.Check(d); err != nil {
		log.Info("refused request", zap.String("problem", err.Error()))
		a.Metrics.Requests.WithLabelValues("refused").Inc()
		return ephemeral(Usage(Problem(err), a.Example)), nil
	}
	return ephemeral(Submitted(d.ID, d.Scope, d.Duration)), func(ctx context.Context) {
		if _, problem := a.submit(ctx, log, d); problem != "" {
			a.respond(ctx, log, cmd.ResponseURL, problem)
		}
	}
}

// seed derives a request ID seed from Slack's unique trigger, so a
// redelivered command maps to the same request.
func seed(team, trigger string) string {
	if trigger == "" {
		return ""
	}
	return team + "/" + trigger
}

// ListingOrError renders a listing, or the error that prevented it.
func ListingOrError(l approval.Listing, err error) string {
	if err != nil {
		return UserMessage(err)
	}
	return Listing(l)
}

// submit stores a checked draft. It reports whether this delivery stored
// it (false for a duplicate) and, on failure, what to tell the requester.
func (a *App) submit(ctx context.Context, log *zap.Logger, d approval.Draft) (stored bool, problem string) {
	log = log.With(zap.String("request_id", d.ID))
	_, err := a.Service.Submit(ctx, d)
	switch {
	case errors.Is(err, approval.ErrExists):
		a.Metrics.Requests.WithLabelValues("duplicate").Inc()
		log.Info("duplicate delivery of a request ignored")
		return false, ""
	case err != nil:
		a.Metrics.Requests.WithLabelValues("error").Inc()
		log.Error("submit request", zap.Error(err))
		return false, "Your request " + d.ID + " could not be recorded: " + UserMessage(err)
	}
	a.Metrics.Requests.WithLabelValues("submitted").Inc()
	log.Info("request submitted", zap.String("scope", d.Scope.String()), zap.String("access", string(d.Access)),
		zap.Duration("duration", d.Duration))
	return true, ""
}

// respond answers through a response_url, logging failures.
func (a *App) respond(ctx context.Context, log *zap.Logger, responseURL, text string) {
	if err := a.Web.Respond(ctx, responseURL, text); err != nil {
		log.Warn("reply to user failed", zap.Error(err))
	}
}

// logRefusal logs a refused action: at warn when someone tried something
// they may not do, at info when it was merely too late.
func (a *App) logRefusal(log *zap.Logger, action string, err error) {
	switch {
	case errors.Is(err, approval.ErrForbidden), errors.Is(err, approval.ErrNotFound):
		log.Warn("refused "+action, zap.String("reason", err.Error()))
	case errors.As(err, new(*approval.StateError)), errors.Is(err, approval.ErrTooLate):
		log.Info("refused "+action, zap.String("reason", err.Error()))
	default:
		log.Error(action+" failed", zap.Error(err))
	}
}

// Interaction handles button clicks and modal submissions.
func (a *App) Interaction(cb slack.InteractionCallback) (any, work) {
	switch cb.Type {
	case slack.InteractionTypeBlockActions:
		return nil, func(ctx context.Context) { a.blockAction(ctx, cb) }
	case slack.InteractionTypeViewSubmission:
		return a.viewSubmission(cb)
	}
	return nil, nil
}

// blockAction treats every field of the payload as forged until checked:
// the user's ID shape, one known action, a well-formed request ID, a
// request that exists, a click on a message the bot posted for that very
// request; then the service checks the user's rights and the state.
func (a *App) blockAction(ctx context.Context, cb slack.InteractionCallback) {
	log := a.Log.With(zap.String("user_id", short(cb.User.ID)))
	refuse := func(why string, fields ...zap.Field) {
		log.Warn("refused button click: "+why, fields...)
		a.Metrics.Decisions.WithLabelValues("refused").Inc()
		if validUserID(cb.User.ID) {
			a.respond(ctx, log, cb.ResponseURL, "Sorry, that button cannot be used: "+why+".")
		}
	}
	if !validUserID(cb.User.ID) {
		refuse("unknown user")
		return
	}
	if len(cb.ActionCallback.BlockActions) != 1 {
		refuse("expected exactly one action", zap.Int("actions", len(cb.ActionCallback.BlockActions)))
		return
	}
	act := cb.ActionCallback.BlockActions[0]
	switch act.ActionID {
	case actionApprove, actionDeny, actionEnd, actionConsole:
	default:
		refuse("unknown action", zap.String("action_id", short(act.ActionID)))
		return
	}
	id := act.Value
	if !approval.ValidID(id) {
		refuse("malformed request ID", zap.String("value", short(id)))
		return
	}
	log = log.With(zap.String("request_id", id), zap.String("action_id", act.ActionID))
	r, err := a.Service.Get(ctx, id)
	if err != nil {
		if errors.Is(err, approval.ErrNotFound) {
			refuse("no such request")
		} else {
			log.Error("load request", zap.Error(err))
			a.respond(ctx, log, cb.ResponseURL, UserMessage(err))
		}
		return
	}
	if cb.Container.Type == "message" && !r.HasMessage(cb.Container.ChannelID, cb.Container.MessageTs) {
		// The notifier remembers a message right after posting it; give
		// a click that raced that write one more look.
		if sleep(ctx, 250*time.Millisecond) == nil {
			if again, err := a.Service.Get(ctx, id); err == nil {
				r = again
			}
		}
	}
	if cb.Container.Type != "message" || !r.HasMessage(cb.Container.ChannelID, cb.Container.MessageTs) {
		refuse("it is not on a message share-bucket posted for this request",
			zap.String("channel", cb.Container.ChannelID), zap.String("message_ts", cb.Container.MessageTs))
		return
	}

	switch act.ActionID {
	case actionApprove, actionDeny:
		approve := act.ActionID == actionApprove
		r, err := a.Service.Decide(ctx, id, cb.User.ID, approve)
		if err != nil {
			a.Metrics.Decisions.WithLabelValues("refused").Inc()
			a.logRefusal(log, act.ActionID, err)
			a.respond(ctx, log, cb.ResponseURL, UserMessage(err))
			return
		}
		decision := string(r.State)
		if r.State == approval.StatePending {
			decision = string(approval.EventApprovalRecorded)
		}
		a.Metrics.Decisions.WithLabelValues(decision).Inc()
		log.Info("decision recorded", zap.String("state", string(r.State)))
	case actionEnd:
		if _, err := a.Service.End(ctx, id, cb.User.ID); err != nil {
			a.logRefusal(log, "end", err)
			a.respond(ctx, log, cb.ResponseURL, UserMessage(err))
			return
		}
		log.Info("ended by button")
	case actionConsole:
		// A fresh link is shown where it was asked for, so only the
		// requester's grant DM may ask.
		grantDM := approval.MessageRef{Kind: approval.MessageGrant, Channel: cb.Container.ChannelID, TS: cb.Container.MessageTs}
		if !slices.Contains(r.Messages, grantDM) {
			refuse("it is not on the message that carries your access",
				zap.String("channel", cb.Container.ChannelID), zap.String("message_ts", cb.Container.MessageTs))
			return
		}
		link, r, err := a.Service.Link(ctx, id, cb.User.ID)
		if err != nil {
			a.logRefusal(log, "fresh link", err)
			a.respond(ctx, log, cb.ResponseURL, UserMessage(err))
			return
		}
		a.Metrics.LinksMinted.Inc()
		// The link goes only to the requester, in the grant DM the click
		// came from (checked above), through the Web API, not a URL from
		// the payload.
		if err := a.Web.Ephemeral(ctx, cb.Container.ChannelID, r.Requester, FreshLink(r, link)); err != nil {
			log.Error("send fresh link", zap.Error(err))
			a.respond(ctx, log, cb.ResponseURL, "The fresh link could not be sent; please try again.")
			return
		}
		log.Info("fresh link sent", zap.Time("session_ends", link.SessionEnds))
	}
}

// Modal field IDs.
const (
	modalCallback = "share_bucket_request"
	fieldScope    = "scope"
	fieldDuration = "duration"
	fieldAccess   = "access"
	fieldReason   = "reason"
)

func (a *App) openModal(ctx context.Context, log *zap.Logger, triggerID string) {
	if err := a.Web.OpenView(ctx, triggerID, RequestModal(a.DefaultDuration)); err != nil {
		log.Warn("open request form", zap.Error(err))
	}
}

// viewSubmission validates the form in the ack (Slack shows the errors next
// to the fields) and submits after it.
func (a *App) viewSubmission(cb slack.InteractionCallback) (any, work) {
	if cb.View.CallbackID != modalCallback {
		return nil, nil
	}
	log := a.Log.With(zap.String("user_id", cb.User.ID))
	if !validUserID(cb.User.ID) {
		log.Warn("form submission with a malformed user ID")
		return nil, nil
	}
	value := func(block string) string {
		v := cb.View.State.Values[block][block]
		if v.SelectedOption.Value != "" {
			return v.SelectedOption.Value
		}
		return strings.TrimSpace(v.Value)
	}
	fieldErrs := map[string]string{}
	var d approval.Draft
	d.ID = approval.NewID(seed(cb.Team.ID, "view/"+cb.View.ID))
	d.Requester = cb.User.ID
	var err error
	if d.Bucket, d.Prefix, err = parseScope(plainText(value(fieldScope))); err != nil {
		fieldErrs[fieldScope] = err.Error()
	}
	d.Duration = a.DefaultDuration
	if s := value(fieldDuration); s != "" {
		if d.Duration, err = ParseDuration(s); err != nil {
			fieldErrs[fieldDuration] = err.Error()
		}
	}
	d.Access = approval.Access(value(fieldAccess))
	if d.Access == "" {
		d.Access = approval.AccessWrite
	}
	d.Reason = plainText(value(fieldReason))
	if len(fieldErrs) == 0 {
		if err := a.Service.Check(d); err != nil {
			field := fieldReason
			if ie, ok := errors.AsType[*approval.InvalidError](err); ok {
				switch ie.Field {
				case "bucket", "prefix":
					field = fieldScope
				case "duration", "access":
					field = ie.Field
				}
			}
			fieldErrs[field] = UserMessage(err)
		}
	}
	if len(fieldErrs) > 0 {
		log.Info("refused form", zap.Any("problems", fieldErrs))
		a.Metrics.Requests.WithLabelValues("refused").Inc()
		return slack.NewErrorsViewSubmissionResponse(fieldErrs), nil
	}
	return nil, func(ctx context.Context) {
		stored, problem := a.submit(ctx, log, d)
		text := problem
		if stored {
			text = Submitted(d.ID, d.Scope, d.Duration)
		}
		if text == "" {
			return
		}
		dm, err := a.Web.DM(ctx, d.Requester)
		if err == nil {
			_, _, err = a.Web.Post(ctx, dm, text, nil)
		}
		if err != nil {
			log.Warn("tell requester about the form", zap.Error(err))
		}
	}
}

// RequestModal is the form opened by /share-bucket with no arguments.
func RequestModal(def time.Duration) slack.ModalViewRequest {
	input := func(id, label, placeholder string, multiline, optional bool) *slack.InputBlock {
		el := slack.NewPlainTextInputBlockElement(plain(placeholder), id)
		el.Multiline = multiline
		b := slack.NewInputBlock(id, plain(label), nil, el)
		b.Optional = optional
		return b
	}
	access := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("write"), fieldAccess,
		slack.NewOptionBlockObject("write", plain("write: list, download, upload, delete"), nil),
		slack.NewOptionBlockObject("read", plain("read: list and download"), nil))
	access.InitialOption = slack.NewOptionBlockObject("write", plain("write: list, download, upload, delete"), nil)
	return slack.ModalViewRequest{
		Type:       slack.VTModal,
		CallbackID: modalCallback,
		Title:      plain("Share a bucket folder"),
		Submit:     plain("Request"),
		Close:      plain("Cancel"),
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			input(fieldScope, "Bucket and folder", "collab-bucket/myfolder/", false, false),
			input(fieldDuration, "Duration", "default "+approval.FormatDuration(def)+"; like 15m, 2h, 1d", false, true),
			slack.NewInputBlock(fieldAccess, plain("Access"), nil, access),
			input(fieldReason, "Reason", "why you need access", true, false),
		}},
	}
}
