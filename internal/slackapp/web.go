package slackapp

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"go.uber.org/zap"

	"github.com/share-bucket/share-bucket/internal/metrics"
)

// slackAPI is the part of *slack.Client the bot uses. The manifest test
// checks the app's scopes against these methods.
type slackAPI interface {
	PostMessageContext(ctx context.Context, channelID string, options ...slack.MsgOption) (string, string, error)
	UpdateMessageContext(ctx context.Context, channelID, timestamp string, options ...slack.MsgOption) (string, string, string, error)
	PostEphemeralContext(ctx context.Context, channelID, userID string, options ...slack.MsgOption) (string, error)
	OpenConversationContext(ctx context.Context, params *slack.OpenConversationParameters) (*slack.Channel, bool, bool, error)
	OpenViewContext(ctx context.Context, triggerID string, view slack.ModalViewRequest) (*slack.ViewResponse, error)
	PublishViewContext(ctx context.Context, req slack.PublishViewContextRequest) (*slack.ViewResponse, error)
}

var _ slackAPI = (*slack.Client)(nil)

// Web sends messages through the Slack Web API. It paces chat.postMessage
// to about one message per second per channel, as Slack asks, and retries
// calls answered with HTTP 429 after their Retry-After, so bursts and rate
// limits delay messages but never drop them. Waiting happens in the
// caller's goroutine, never on the Socket Mode ack path.
//
// Limits are kept apart: pacing is per channel, and a 429 pauses only what
// Slack limited (that channel for chat.postMessage, the method otherwise);
// other channels and methods keep going. Every wait goes through Wait,
// which the worker provides: a delivery waiting its turn then lets other
// notices go meanwhile, and a turn far off defers the delivery instead
// (Wait returns an error, passed up unchanged). A post whose context
// carries a post key (the notifier's event) keeps its turn when it does not
// wait for it, so coming back later it posts in that turn rather than
// queueing again.
type Web struct {
	API     slackAPI
	Log     *zap.Logger
	Metrics *metrics.Metrics
	// MaxRetries bounds retries after 429s. Zero means 5.
	MaxRetries int
	// PostInterval is the pacing per channel. Zero means one second.
	PostInterval time.Duration
	// Wait waits d for a turn, or returns an error to give the call up
	// for now (see worker.Worker.Wait). Nil means sleep. Set it before
	// the first call.
	Wait func(ctx context.Context, d time.Duration) error

	mu       sync.Mutex
	channels map[string]*schedule // channel -> its posts' schedule
	paused   map[string]time.Time // method -> end of a 429's Retry-After
	kept     map[keptTurn]turn
	dms      map[string]string // user -> DM channel
}

// schedule is one channel's posting schedule.
type schedule struct {
	next   time.Time // earliest free turn
	paused time.Time // end of the latest 429's Retry-After
	// shift is how far pauses have moved the schedule so far: a turn
	// taken when it was s is due shift-s later.
	shift time.Duration
}

// turn is a post's place in its channel's schedule.
type turn struct {
	at    time.Time
	shift time.Duration // the schedule's shift when at was set
}

// keptTurn names a post's turn kept for when it comes back.
type keptTurn struct{ channel, key string }

type postKeyType struct{}

// withPostKey marks ctx's posts as those of key, such as an event, so a
// post that gives its turn up keeps it for key's next attempt.
func withPostKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, postKeyType{}, key)
}

// NewWeb returns a Web over api.
func NewWeb(api slackAPI, log *zap.Logger, m *metrics.Metrics) *Web {
	if log == nil {
		log = zap.NewNop()
	}
	return &Web{API: api, Log: log, Metrics: m}
}

// call runs fn, retrying after rate limits. method names the API method
// for metrics and logs. A 429 pauses what Slack limited: for
// chat.postMessage the channel named (Slack limits posts per channel),
// whose posts wait in pace, otherwise the method, whose calls wait here
// before each try.
func (w *Web) call(ctx context.Context, method, channel string, fn func() error) error {
	retries := w.MaxRetries
	if retries == 0 {
		retries = 5
	}
	posts := method == "chat.postMessage" && channel != ""
	for attempt := 0; ; attempt++ {
		if !posts {
			if err := w.await(ctx, method); err != nil {
				return fmt.Errorf("%s: %w", method, err)
			}
		}
		err := fn()
		if err == nil {
			return nil
		}
		if we, ok := err.(waitError); ok {
			return fmt.Errorf("%s: %w", method, we.err)
		}
		rl, ok := errors.AsType[*slack.RateLimitedError](err)
		if !ok {
			if ctx.Err() == nil || !errors.Is(err, ctx.Err()) {
				w.Metrics.SlackErrors.WithLabelValues(method, errorCode(err)).Inc()
			}
			return fmt.Errorf("%s: %w", method, withoutURL(err))
		}
		w.Metrics.SlackRateLimited.WithLabelValues(method).Inc()
		wait := max(rl.RetryAfter, 100*time.Millisecond)
		if posts {
			w.pauseChannel(channel, wait)
		} else {
			w.pauseMethod(method, wait)
		}
		if attempt >= retries {
			w.Metrics.SlackErrors.WithLabelValues(method, "ratelimited").Inc()
			return fmt.Errorf("%s: still rate limited after %d retries: %w", method, retries, err)
		}
		w.Log.Warn("slack rate limited; retrying", zap.String("method", method), zap.String("channel", channel),
			zap.Duration("retry_after", wait), zap.Int("attempt", attempt+1))
	}
}

// waitError is an error from waiting for a turn (a deferral, or the
// context ending), not from Slack: it counts in no Slack error metric.
type waitError struct{ err error }

func (e waitError) Error() string { return e.err.Error() }

// pauseMethod holds back calls of method for d.
func (w *Web) pauseMethod(method string, d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.paused == nil {
		w.paused = make(map[string]time.Time)
	}
	if until := time.Now().Add(d); until.After(w.paused[method]) {
		w.paused[method] = until
	}
}

// pauseChannel holds back posts to channel for d: the pause moves the
// channel's schedule (turns taken, kept, and to come) later by as much as
// it extends the pause already running, keeping their spacing, so they do
// not all come due at once when it ends, and posts waiting their turn find
// theirs moved when they wake (see pace).
func (w *Web) pauseChannel(channel string, d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.schedule(channel)
	now := time.Now()
	until := now.Add(d)
	from := now
	if c.paused.After(now) {
		from = c.paused
	}
	if !until.After(from) {
		return // within the pause already running
	}
	c.paused = until
	c.shift += until.Sub(from)
	if c.next.After(now) {
		c.next = c.next.Add(until.Sub(from))
	} else {
		c.next = until
	}
}

// schedule returns channel's schedule. The caller holds w.mu.
func (w *Web) schedule(channel string) *schedule {
	if w.channels == nil {
		w.channels = make(map[string]*schedule)
		w.kept = make(map[keptTurn]turn)
	}
	c := w.channels[channel]
	if c == nil {
		c = &schedule{}
		w.channels[channel] = c
	}
	return c
}

// await waits until method is no longer paused.
func (w *Web) await(ctx context.Context, method string) error {
	w.mu.Lock()
	until, ok := w.paused[method]
	if ok && !until.After(time.Now()) {
		delete(w.paused, method)
	}
	w.mu.Unlock()
	if d := time.Until(until); ok && d > 0 {
		return w.wait(ctx, d)
	}
	return nil
}

func (w *Web) wait(ctx context.Context, d time.Duration) error {
	if w.Wait != nil {
		return w.Wait(ctx, d)
	}
	return sleep(ctx, d)
}

// withoutURL drops the URL net/http puts in its errors: a response_url
// lets anyone holding it post to the conversation for half an hour, so it
// stays out of logs.
func withoutURL(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return fmt.Errorf("%s request: %w", ue.Op, ue.Err)
	}
	return err
}

// errorCode returns Slack's error code for metrics labels, or "other".
func errorCode(err error) string {
	if se, ok := errors.AsType[slack.SlackErrorResponse](err); ok {
		return se.Err
	}
	if sc, ok := errors.AsType[slack.StatusCodeError](err); ok {
		return fmt.Sprintf("http_%d", sc.Code)
	}
	return "other"
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pace waits for channel's next posting turn, which it takes: the turn
// kept for ctx's post key if there is one, else the next free one. A post
// that does not wait (Wait returned an error) keeps its turn, if it has a
// key, for when it comes back. A turn that a 429 moved while the post
// waited is waited for again.
func (w *Web) pace(ctx context.Context, channel string) error {
	interval := w.PostInterval
	if interval == 0 {
		interval = time.Second
	}
	key, _ := ctx.Value(postKeyType{}).(string)
	kt := keptTurn{channel, key}
	w.mu.Lock()
	c := w.schedule(channel)
	now := time.Now()
	t, kept := w.kept[kt]
	if kept && key != "" {
		delete(w.kept, kt)
	} else {
		t = turn{at: now, shift: c.shift}
		if c.next.After(t.at) {
			t.at = c.next
		}
		if c.paused.After(t.at) {
			t.at = c.paused
		}
		c.next = t.at.Add(interval)
	}
	w.forget(now)
	w.mu.Unlock()
	for {
		w.mu.Lock()
		c := w.schedule(channel)
		t.at, t.shift = t.at.Add(c.shift-t.shift), c.shift
		w.mu.Unlock()
		d := time.Until(t.at)
		if d <= 0 {
			return nil
		}
		if err := w.wait(ctx, d); err != nil {
			if key != "" && ctx.Err() == nil {
				w.mu.Lock()
				w.kept[kt] = t
				w.mu.Unlock()
			}
			return err
		}
	}
}

// forget drops schedules of channels quiet for a while and turns long
// past (their posts came back elsewhere, or never), so the maps stay
// small. The caller holds w.mu.
func (w *Web) forget(now time.Time) {
	if len(w.channels) <= 1000 && len(w.kept) <= 1000 {
		return
	}
	keeping := make(map[string]bool)
	for k, t := range w.kept {
		if t.at.Before(now.Add(-time.Minute)) {
			delete(w.kept, k)
		} else {
			keeping[k.channel] = true
		}
	}
	for ch, c := range w.channels {
		if c.next.Before(now) && c.paused.Before(now) && !keeping[ch] {
			delete(w.channels, ch)
		}
	}
}

// Post sends a message to channel and returns the channel it landed in and
// its timestamp.
func (w *Web) Post(ctx context.Context, channel, text string, blocks []slack.Block) (string, string, error) {
	var ch, ts string
	err := w.call(ctx, "chat.postMessage", channel, func() error {
		if err := w.pace(ctx, channel); err != nil {
			return waitError{err}
		}
		var err error
		ch, ts, err = w.API.PostMessageContext(ctx, channel, msgOptions(text, blocks)...)
		return err
	})
	return ch, ts, err
}

// Reply posts text in the thread of message ts in channel.
func (w *Web) Reply(ctx context.Context, channel, ts, text string) (string, string, error) {
	var ch, rts string
	err := w.call(ctx, "chat.postMessage", channel, func() error {
		if err := w.pace(ctx, channel); err != nil {
			return waitError{err}
		}
		var err error
		ch, rts, err = w.API.PostMessageContext(ctx, channel, slack.MsgOptionText(text, false), slack.MsgOptionTS(ts), slack.MsgOptionDisableLinkUnfurl())
		return err
	})
	return ch, rts, err
}

// Update replaces the text and blocks of a message the bot posted.
func (w *Web) Update(ctx context.Context, channel, ts, text string, blocks []slack.Block) error {
	return w.call(ctx, "chat.update", channel, func() error {
		_, _, _, err := w.API.UpdateMessageContext(ctx, channel, ts, msgOptions(text, blocks)...)
		return err
	})
}

// Ephemeral shows text to user only, in channel.
func (w *Web) Ephemeral(ctx context.Context, channel, user, text string) error {
	return w.call(ctx, "chat.postEphemeral", channel, func() error {
		_, err := w.API.PostEphemeralContext(ctx, channel, user, slack.MsgOptionText(text, false))
		return err
	})
}

// Respond answers an interaction or command through its response_url, as
// a message only the user sees.
func (w *Web) Respond(ctx context.Context, responseURL, text string) error {
	if responseURL == "" {
		return errors.New("response_url: missing")
	}
	return w.call(ctx, "response_url", "", func() error {
		_, _, err := w.API.PostMessageContext(ctx, "", slack.MsgOptionResponseURL(responseURL, slack.ResponseTypeEphemeral),
			slack.MsgOptionText(text, false))
		return err
	})
}

// DM returns the ID of the bot's direct-message channel with user.
func (w *Web) DM(ctx context.Context, user string) (string, error) {
	w.mu.Lock()
	ch, ok := w.dms[user]
	w.mu.Unlock()
	if ok {
		return ch, nil
	}
	err := w.call(ctx, "conversations.open", "", func() error {
		c, _, _, err := w.API.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{user}})
		if err == nil {
			ch = c.ID
		}
		return err
	})
	if err != nil {
		return "", err
	}
	w.mu.Lock()
	if w.dms == nil {
		w.dms = make(map[string]string)
	}
	w.dms[user] = ch
	w.mu.Unlock()
	return ch, nil
}

// OpenView opens a modal for a trigger.
func (w *Web) OpenView(ctx context.Context, triggerID string, view slack.ModalViewRequest) error {
	return w.call(ctx, "views.open", "", func() error {
		_, err := w.API.OpenViewContext(ctx, triggerID, view)
		return err
	})
}

func msgOptions(text string, blocks []slack.Block) []slack.MsgOption {
	opts := []slack.MsgOption{slack.MsgOptionText(text, false), slack.MsgOptionDisableLinkUnfurl()}
	if len(blocks) > 0 {
		opts = append(opts, slack.MsgOptionBlocks(blocks...))
	}
	return opts
}

// EphemeralBlocks shows text and blocks to user only, in channel; text is
// the fallback for notifications.
func (w *Web) EphemeralBlocks(ctx context.Context, channel, user, text string, blocks []slack.Block) error {
	return w.call(ctx, "chat.postEphemeral", channel, func() error {
		_, err := w.API.PostEphemeralContext(ctx, channel, user, slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...))
		return err
	})
}

// RespondBlocks answers through a response_url with blocks, as a message
// only the user sees; text is the fallback for notifications.
func (w *Web) RespondBlocks(ctx context.Context, responseURL, text string, blocks []slack.Block) error {
	if responseURL == "" {
		return errors.New("response_url: missing")
	}
	return w.call(ctx, "response_url", "", func() error {
		_, _, err := w.API.PostMessageContext(ctx, "", slack.MsgOptionResponseURL(responseURL, slack.ResponseTypeEphemeral),
			slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...))
		return err
	})
}
