package slackapp

import (
	"context"
	"errors"
	"regexp"
	"strconv"
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
	Service *approval.Service
	Web     *Web
	// Approvers, if set, is read again before a decision by someone who
	// is an approver only through a user group (or not yet known as one).
	Approvers *Approvers
	// Homes, if set, publishes App Homes.
	Homes           *Homes
	Log             *zap.Logger
	Metrics         *metrics.Metrics
	DefaultDuration time.Duration
	// Example is a correct command shown in help and refusals.
	Example string
}

// afterAck is the work a handler leaves for after the ack.
type afterAck func(ctx context.Context)

var userIDRE = regexp.MustCompile(`^[UW][A-Z0-9]{2,20}$`)

// ValidUserID reports whether id has the shape of a Slack user ID.
func ValidUserID(id string) bool { return userIDRE.MatchString(id) }

// forLog bounds a payload field before it goes into a log line (zap
// escapes the rest).
func forLog(s string) string {
	const n = 40
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func ephemeral(text string) map[string]any {
	return map[string]any{"response_type": "ephemeral", "text": text}
}

// Slash handles a /share-bucket invocation.
func (a *App) Slash(cmd slack.SlashCommand) (any, afterAck) {
	log := a.Log.With(zap.String("user_id", forLog(cmd.UserID)))
	if !ValidUserID(cmd.UserID) {
		log.Warn("slash command with a malformed user ID")
		a.Metrics.Requests.WithLabelValues("refused").Inc()
		return ephemeral("Sorry, share-bucket could not tell who you are."), nil
	}
	c, err := ParseCommand(cmd.Text, a.DefaultDuration)
	if err != nil {
		log.Info("refused command", zap.String("problem", err.Error()))
		a.Metrics.Requests.WithLabelValues("refused").Inc()
		var kind approval.Kind
		if ue, ok := errors.AsType[*UsageError](err); ok {
			kind = ue.Object
		}
		return ephemeral(Usage(err.Error(), a.example(kind))), nil
	}
	switch c.Kind {
	case CmdHelp:
		return ephemeral(Help(a.Example, a.DefaultDuration, a.Service.Policy.MaxDuration)), nil
	case CmdModal:
		return nil, func(ctx context.Context) { a.openModal(ctx, log, cmd.TriggerID) }
	case CmdList:
		return nil, func(ctx context.Context) {
			l, err := a.Service.ListPage(ctx, cmd.UserID, c.Page, ListPageSize)
			if err != nil {
				log.Error("list requests", zap.Error(err))
			}
			a.respond(ctx, log, cmd.ResponseURL, ListingOrError(l, err))
		}
	case CmdRevoke:
		return nil, func(ctx context.Context) {
			log := log.With(zap.String("request_id", c.ID))
			r, err := a.Service.Revoke(ctx, c.ID, cmd.UserID)
			if err != nil {
				a.logRefusal(log, "revoke", err)
				a.respond(ctx, log, cmd.ResponseURL, UserMessage(err))
				return
			}
			log.Info("ended by command")
			a.respond(ctx, log, cmd.ResponseURL, "Done: "+r.ID+" for "+scopeText(r.Scope)+" is ended.")
		}
	case CmdExtend:
		return nil, func(ctx context.Context) {
			a.extend(ctx, log.With(zap.String("request_id", c.ID)), c.ID, cmd.UserID, c.Duration, c.Reason, func(text string) {
				a.respond(ctx, log, cmd.ResponseURL, text)
			})
		}
	case CmdLink:
		return nil, func(ctx context.Context) { a.linkCommand(ctx, log, cmd, c.ID) }
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
		return ephemeral(Usage(Problem(err), a.example(d.Kind))), nil
	}
	return ephemeral(Submitted(d.ID, d.Scope, d.Duration)), func(ctx context.Context) {
		if _, problem := a.submit(ctx, log, d); problem != "" {
			a.respond(ctx, log, cmd.ResponseURL, problem)
		}
	}
}

// example is the correct command shown with a refusal: the configured
// folder example, or one like it for get or put.
func (a *App) example(kind approval.Kind) string {
	if kind.Object() {
		return ObjectExample(a.Example, kind)
	}
	return a.Example
}

// extend asks the approvers for d more time on grant id and tells user
// how that went through reply.
func (a *App) extend(ctx context.Context, log *zap.Logger, id, user string, d time.Duration, reason string, reply func(string)) {
	r, err := a.Service.Extend(ctx, id, user, d, reason)
	if err != nil {
		a.logRefusal(log, "extend", err)
		reply(UserMessage(err))
		return
	}
	log.Info("extension asked", zap.Duration("extra", d))
	reply(ExtensionAsked(r, r.PendingExtension()))
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
	case errors.As(err, new(*approval.AlreadyPendingError)), errors.As(err, new(*approval.PendingLimitError)):
		return false, a.notSent(log, d.ID, err)
	case err != nil:
		a.Metrics.Requests.WithLabelValues("error").Inc()
		log.Error("submit request", zap.Error(err))
		return false, "Your request " + d.ID + " could not be recorded: " + UserMessage(err)
	}
	a.Metrics.Requests.WithLabelValues("submitted").Inc()
	log.Info("request submitted", zap.String("scope", d.Scope.String()), zap.String("kind", string(d.Kind)),
		zap.String("access", string(d.Access)), zap.Duration("duration", d.Duration))
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
func (a *App) Interaction(cb slack.InteractionCallback) (any, afterAck) {
	switch cb.Type {
	case slack.InteractionTypeBlockActions:
		return nil, func(ctx context.Context) { a.blockAction(ctx, cb) }
	case slack.InteractionTypeViewSubmission:
		return a.viewSubmission(cb)
	}
	return nil, nil
}

// A click is a button press whose payload passed checkClick: a known
// user, one known action, and a request that exists, clicked on a message
// the bot posted for it. Whether the user may do what the button says is
// the service's to decide.
type click struct {
	user        string
	action      string
	request     *approval.Request
	channel     string // where the clicked message is
	ts          string
	extension   int    // the extension an extension button is about
	home        bool   // clicked in the user's App Home, not on a message
	triggerID   string // to open a form
	responseURL string
	log         *zap.Logger
}

// A refusal is a click turned away before it reaches the service.
type refusal struct {
	why    string
	fields []zap.Field
}

func (r *refusal) Error() string { return r.why }

func refuse(why string, fields ...zap.Field) error { return &refusal{why: why, fields: fields} }

// blockAction checks a button click, then acts on it, then words any
// error for the person who clicked.
func (a *App) blockAction(ctx context.Context, cb slack.InteractionCallback) {
	c, err := a.checkClick(ctx, cb)
	if err == nil {
		switch c.action {
		case actionApprove:
			err = a.decide(ctx, c, approval.Approve)
		case actionDeny:
			err = a.decide(ctx, c, approval.Deny)
		case actionRevoke:
			err = a.revoke(ctx, c)
		case actionConsole, actionNewLink:
			err = a.freshLink(ctx, c)
		case actionApproveExtension:
			err = a.decideExtension(ctx, c, approval.Approve)
		case actionDenyExtension:
			err = a.decideExtension(ctx, c, approval.Deny)
		case actionExtend:
			err = a.openExtend(ctx, c)
		}
	}
	if err != nil {
		a.clickFailed(ctx, cb, c, err)
	}
}

// checkClick treats every field of the payload as forged until checked:
// the user's ID shape, one known action, a well-formed request ID, a
// request that exists, a click on a message the bot posted for that very
// request. Failures are *refusal, or the store's error.
func (a *App) checkClick(ctx context.Context, cb slack.InteractionCallback) (*click, error) {
	if !ValidUserID(cb.User.ID) {
		return nil, refuse("unknown user")
	}
	if len(cb.ActionCallback.BlockActions) != 1 {
		return nil, refuse("expected exactly one action", zap.Int("actions", len(cb.ActionCallback.BlockActions)))
	}
	act := cb.ActionCallback.BlockActions[0]
	switch act.ActionID {
	case actionApprove, actionDeny, actionRevoke, actionConsole, actionNewLink,
		actionApproveExtension, actionDenyExtension, actionExtend:
	default:
		return nil, refuse("unknown action", zap.String("action_id", forLog(act.ActionID)))
	}
	if !approval.ValidID(act.Value) {
		return nil, refuse("malformed request ID", zap.String("value", forLog(act.Value)))
	}
	r, err := a.Service.Get(ctx, act.Value)
	if errors.Is(err, approval.ErrNotFound) {
		return nil, refuse("no such request", zap.String("request_id", act.Value))
	}
	if err != nil {
		return nil, err
	}
	c := &click{
		user: cb.User.ID, action: act.ActionID, request: r,
		channel: cb.Container.ChannelID, ts: cb.Container.MessageTs, triggerID: cb.TriggerID, responseURL: cb.ResponseURL,
		log: a.Log.With(zap.String("user_id", cb.User.ID), zap.String("request_id", r.ID), zap.String("action_id", act.ActionID)),
	}
	if cb.Container.Type == "view" && cb.View.Type == slack.VTHomeTab {
		return c, checkHomeClick(c, act.BlockID)
	}
	// The notifier remembers each message right after Slack accepts it,
	// long before a person can click on it.
	ref, ok := r.MessageAt(c.channel, c.ts)
	if cb.Container.Type != "message" || !ok {
		return c, refuse("it is not on a message share-bucket posted for this request",
			zap.String("channel", c.channel), zap.String("message_ts", c.ts))
	}
	// Each button belongs on one kind of message: a fresh link, for one,
	// is shown where it was asked for, so only the requester's grant DM
	// may ask.
	switch c.action {
	case actionConsole, actionNewLink:
		if ref.Kind != approval.MessageGrant {
			return c, refuse("it is not on the message that carries your access",
				zap.String("channel", c.channel), zap.String("message_ts", c.ts))
		}
	case actionApproveExtension, actionDenyExtension:
		if ref.Kind != approval.MessageExtension {
			return c, refuse("it is not on the message of an extension", zap.String("channel", c.channel), zap.String("message_ts", c.ts))
		}
		c.extension = ref.Extension
	case actionExtend:
		if ref.Kind != approval.MessageWarning && ref.Kind != approval.MessageGrant {
			return c, refuse("it is not on a message about your access", zap.String("channel", c.channel), zap.String("message_ts", c.ts))
		}
	}
	return c, nil
}

// checkHomeClick checks a click in the clicker's App Home, which shows
// only buttons for their own requests and grants, and Approve and Deny
// for approvers. The block ID of an extension's buttons names the
// extension.
func checkHomeClick(c *click, blockID string) error {
	c.home = true
	if c.action == actionApproveExtension || c.action == actionDenyExtension {
		_, seq, ok := strings.Cut(strings.TrimPrefix(blockID, homeExtensionBlock), ":")
		n, err := strconv.Atoi(seq)
		if !ok || err != nil || n < 1 || !strings.HasPrefix(blockID, homeExtensionBlock+c.request.ID+":") {
			return refuse("it does not name an extension", zap.String("block_id", forLog(blockID)))
		}
		c.extension = n
	}
	return nil
}

func (a *App) decide(ctx context.Context, c *click, d approval.Decision) error {
	a.confirmApprover(ctx, c.user)
	r, err := a.Service.Decide(ctx, c.request.ID, c.user, d)
	if err != nil {
		return err
	}
	decision := string(r.State)
	if r.State == approval.StatePending {
		decision = string(approval.EventApprovalRecorded)
	}
	a.Metrics.Decisions.WithLabelValues(decision).Inc()
	c.log.Info("decision recorded", zap.String("state", string(r.State)))
	return nil
}

// confirmApprover makes sure a decision by user sees the user groups as
// they are now: a new member may decide, a former member may not.
func (a *App) confirmApprover(ctx context.Context, user string) {
	if a.Approvers != nil {
		a.Approvers.Confirm(ctx, user)
	}
}

func (a *App) decideExtension(ctx context.Context, c *click, d approval.Decision) error {
	a.confirmApprover(ctx, c.user)
	r, err := a.Service.DecideExtension(ctx, c.request.ID, c.extension, c.user, d)
	if err != nil {
		return err
	}
	a.Metrics.Decisions.WithLabelValues("extension_" + d.String()).Inc()
	c.log.Info("extension decision recorded", zap.Int("extension", c.extension), zap.String("state", string(r.ExtensionNumber(c.extension).State)))
	return nil
}

// openExtend opens the extension form for the requester of an active
// grant. The form asks the time to add and a reason; the service checks
// them on submission.
func (a *App) openExtend(ctx context.Context, c *click) error {
	r := c.request
	if c.user != r.Requester {
		return &approval.ForbiddenError{Reason: "only the requester can ask to extend this access"}
	}
	if r.State != approval.StateApproved {
		return &approval.StateError{Err: approval.ErrEnded, Action: "extend", State: r.State, By: r.EndedBy}
	}
	if err := a.Web.OpenView(ctx, c.triggerID, ExtendModal(r, a.Service.Policy.MaxExtended)); err != nil {
		c.log.Warn("open extension form", zap.Error(err))
	}
	return nil
}

func (a *App) revoke(ctx context.Context, c *click) error {
	if _, err := a.Service.Revoke(ctx, c.request.ID, c.user); err != nil {
		return err
	}
	c.log.Info("revoked by button")
	return nil
}

// freshLink mints a link for the requester and shows it to them only, in
// the grant DM the click came from (checkClick made sure), through the Web
// API rather than a URL from the payload.
func (a *App) freshLink(ctx context.Context, c *click) error {
	link, r, err := a.Service.Link(ctx, c.request.ID, c.user)
	if err != nil {
		return err
	}
	a.Metrics.LinksMinted.Inc()
	// From App Home, the link goes to the requester's DM with the bot,
	// shown to them alone.
	channel := c.channel
	if c.home {
		if channel, err = a.Web.DM(ctx, r.Requester); err != nil {
			c.log.Error("open DM for a fresh link", zap.Error(err))
			return nil
		}
	}
	text, blocks := FreshLinkMessage(r, link)
	if err := a.Web.EphemeralBlocks(ctx, channel, r.Requester, text, blocks); err != nil {
		c.log.Error("send fresh link", zap.Error(err))
		a.respond(ctx, c.log, c.responseURL, "The fresh link could not be sent; please try again.")
		return nil
	}
	c.log.Info("fresh link sent", zap.Time("session_ends", link.SessionEnds))
	return nil
}

// clickFailed logs why a click did nothing and tells the person who
// clicked, unless they could not be identified.
func (a *App) clickFailed(ctx context.Context, cb slack.InteractionCallback, c *click, err error) {
	log := a.Log.With(zap.String("user_id", forLog(cb.User.ID)))
	if c != nil {
		log = c.log
	}
	if rf, ok := errors.AsType[*refusal](err); ok {
		log.Warn("refused button click: "+rf.why, rf.fields...)
		a.Metrics.Decisions.WithLabelValues("refused").Inc()
		if ValidUserID(cb.User.ID) {
			a.respond(ctx, log, cb.ResponseURL, "Sorry, that button cannot be used: "+rf.why+".")
		}
		return
	}
	if c == nil {
		log.Error("load request", zap.Error(err))
	} else {
		if c.action == actionApprove || c.action == actionDeny {
			a.Metrics.Decisions.WithLabelValues("refused").Inc()
		}
		a.logRefusal(log, actionName[c.action], err)
		if c.request.Object() {
			a.respond(ctx, log, cb.ResponseURL, ObjectUserMessage(err))
			return
		}
	}
	a.respond(ctx, log, cb.ResponseURL, UserMessage(err))
}

// actionName names what a button does, for logs.
var actionName = map[string]string{
	actionApprove: "approve", actionDeny: "deny", actionRevoke: "revoke", actionConsole: "fresh link", actionNewLink: "fresh link",
	actionApproveExtension: "approve extension", actionDenyExtension: "deny extension", actionExtend: "extend",
}

// Modal field IDs.
const (
	modalCallback = "share_bucket_request"
	fieldKind     = "kind"
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
func (a *App) viewSubmission(cb slack.InteractionCallback) (any, afterAck) {
	if cb.View.CallbackID == extendCallback {
		return a.extendSubmission(cb)
	}
	if cb.View.CallbackID != modalCallback {
		return nil, nil
	}
	log := a.Log.With(zap.String("user_id", forLog(cb.User.ID)))
	if !ValidUserID(cb.User.ID) {
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
	// A form from before there were kinds has no kind field: a folder.
	switch d.Kind = approval.Kind(value(fieldKind)); d.Kind {
	case "", approval.KindFolder:
		d.Kind = approval.KindFolder
		if d.Bucket, d.Prefix, err = parseScope(plainText(value(fieldScope))); err != nil {
			fieldErrs[fieldScope] = err.Error()
		}
		d.Access = approval.Access(value(fieldAccess))
		if d.Access == "" {
			d.Access = approval.AccessWrite
		}
	case approval.KindGet, approval.KindPut:
		if d.Bucket, d.Key, err = parseObjectScope(d.Kind, plainText(value(fieldScope))); err != nil {
			fieldErrs[fieldScope] = err.Error()
		}
		// The access field is for folders; an object's kind sets it.
		d.Access = d.Kind.Access()
	default:
		fieldErrs[fieldKind] = "choose a folder, download one file or upload one file"
	}
	d.Duration = a.DefaultDuration
	if s := value(fieldDuration); s != "" {
		if d.Duration, err = parseDuration(s); err != nil {
			fieldErrs[fieldDuration] = err.Error()
		}
	}
	d.Reason = plainText(value(fieldReason))
	if len(fieldErrs) == 0 {
		if err := a.Service.Check(d); err != nil {
			field := fieldReason
			if ie, ok := errors.AsType[*approval.InvalidError](err); ok {
				switch ie.Field {
				case "bucket", "prefix", "key":
					field = fieldScope
				case "kind":
					field = fieldKind
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

// extendSubmission checks the extension form's fields in the ack (Slack
// shows the errors next to them) and asks the approvers after it; the
// requester hears how it went by DM.
func (a *App) extendSubmission(cb slack.InteractionCallback) (any, afterAck) {
	log := a.Log.With(zap.String("user_id", forLog(cb.User.ID)))
	id := cb.View.PrivateMetadata
	if !ValidUserID(cb.User.ID) || !approval.ValidID(id) {
		log.Warn("extension form with a malformed user or request ID", zap.String("request_id", forLog(id)))
		return nil, nil
	}
	log = log.With(zap.String("request_id", id))
	value := func(block string) string { return strings.TrimSpace(cb.View.State.Values[block][block].Value) }
	fieldErrs := map[string]string{}
	d, err := parseDuration(value(fieldExtra))
	if err != nil {
		fieldErrs[fieldExtra] = err.Error()
	}
	reason := plainText(value(fieldReason))
	if err := approval.CheckReason(reason); err != nil {
		fieldErrs[fieldReason] = UserMessage(err)
	}
	if len(fieldErrs) > 0 {
		return slack.NewErrorsViewSubmissionResponse(fieldErrs), nil
	}
	return nil, func(ctx context.Context) {
		a.extend(ctx, log, id, cb.User.ID, d, reason, func(text string) {
			dm, err := a.Web.DM(ctx, cb.User.ID)
			if err == nil {
				_, _, err = a.Web.Post(ctx, dm, text, nil)
			}
			if err != nil {
				log.Warn("tell the requester about the extension", zap.Error(err))
			}
		})
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
	folder := slack.NewOptionBlockObject(string(approval.KindFolder), plain("A folder, in the AWS console"), nil)
	kind := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("A folder"), fieldKind,
		folder,
		slack.NewOptionBlockObject(string(approval.KindGet), plain("A link to download one file"), nil),
		slack.NewOptionBlockObject(string(approval.KindPut), plain("A link to upload one file"), nil))
	kind.InitialOption = folder
	return slack.ModalViewRequest{
		Type:       slack.VTModal,
		CallbackID: modalCallback,
		Title:      plain("Share from a bucket"),
		Submit:     plain("Request"),
		Close:      plain("Cancel"),
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewInputBlock(fieldKind, plain("What you need"), nil, kind),
			input(fieldScope, "Bucket and folder, or bucket and file", "collab-bucket/myfolder/ or collab-bucket/myfolder/report.pdf", false, false),
			input(fieldDuration, "Duration", "default "+approval.FormatDuration(def)+"; like 15m, 2h, 1d", false, true),
			slack.NewInputBlock(fieldAccess, plain("Access (folders only)"), nil, access),
			input(fieldReason, "Reason", "why you need access", true, false),
		}},
	}
}
