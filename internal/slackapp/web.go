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
type Web struct {
	API     slackAPI
	Log     *zap.Logger
	Metrics *metrics.Metrics
	// MaxRetries bounds retries after 429s. Zero means 5.
	MaxRetries int
	// PostInterval is the pacing per channel. Zero means one second.
	PostInterval time.Duration

	mu   sync.Mutex
	next map[string]time.Time // channel -> earliest next post
	dms  map[string]string    // user -> DM channel
}

// NewWeb returns a Web over api.
func NewWeb(api slackAPI, log *zap.Logger, m *metrics.Metrics) *Web {
	if log == nil {
		log = zap.NewNop()
	}
	return &Web{API: api, Log: log, Metrics: m}
}

// call runs fn, retrying after rate limits. method names the API method
// for metrics and logs.
func (w *Web) call(ctx context.Context, method string, fn func() error) error {
	retries := w.MaxRetries
	if retries == 0 {
		retries = 5
	}
	for attempt := 0; ; attempt++ {
		err := fn()
		if err == nil {
			return nil
		}
		rl, ok := errors.AsType[*slack.RateLimitedError](err)
		if !ok {
			w.Metrics.SlackErrors.WithLabelValues(method, errorCode(err)).Inc()
			return fmt.Errorf("%s: %w", method, withoutURL(err))
		}
		w.Metrics.SlackRateLimited.WithLabelValues(method).Inc()
		if attempt >= retries {
			w.Metrics.SlackErrors.WithLabelValues(method, "ratelimited").Inc()
			return fmt.Errorf("%s: still rate limited after %d retries: %w", method, retries, err)
		}
		wait := max(rl.RetryAfter, 100*time.Millisecond)
		w.Log.Warn("slack rate limited; retrying", zap.String("method", method), zap.Duration("retry_after", wait), zap.Int("attempt", attempt+1))
		if err := sleep(ctx, wait); err != nil {
			return fmt.Errorf("%s: %w", method, err)
		}
	}
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

// pace waits for channel's next posting slot and reserves it.
func (w *Web) pace(ctx context.Context, channel string) error {
	interval := w.PostInterval
	if interval == 0 {
		interval = time.Second
	}
	w.mu.Lock()
	if w.next == nil {
		w.next = make(map[string]time.Time)
	}
	now := time.Now()
	slot := now
	if n, ok := w.next[channel]; ok && n.After(now) {
		slot = n
	}
	w.next[channel] = slot.Add(interval)
	// Forget channels that have been quiet, so the map stays small.
	if len(w.next) > 1000 {
		for c, t := range w.next {
			if t.Before(now) {
				delete(w.next, c)
			}
		}
	}
	w.mu.Unlock()
	if d := slot.Sub(now); d > 0 {
		return sleep(ctx, d)
	}
	return nil
}

// Post sends a message to channel and returns the channel it landed in and
// its timestamp.
func (w *Web) Post(ctx context.Context, channel, text string, blocks []slack.Block) (string, string, error) {
	var ch, ts string
	err := w.call(ctx, "chat.postMessage", func() error {
		if err := w.pace(ctx, channel); err != nil {
			return err
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
	err := w.call(ctx, "chat.postMessage", func() error {
		if err := w.pace(ctx, channel); err != nil {
			return err
		}
		var err error
		ch, rts, err = w.API.PostMessageContext(ctx, channel, slack.MsgOptionText(text, false), slack.MsgOptionTS(ts), slack.MsgOptionDisableLinkUnfurl())
		return err
	})
	return ch, rts, err
}

// Update replaces the text and blocks of a message the bot posted.
func (w *Web) Update(ctx context.Context, channel, ts, text string, blocks []slack.Block) error {
	return w.call(ctx, "chat.update", func() error {
		_, _, _, err := w.API.UpdateMessageContext(ctx, channel, ts, msgOptions(text, blocks)...)
		return err
	})
}

// Ephemeral shows text to user only, in channel.
func (w *Web) Ephemeral(ctx context.Context, channel, user, text string) error {
	return w.call(ctx, "chat.postEphemeral", func() error {
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
	return w.call(ctx, "response_url", func() error {
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
	err := w.call(ctx, "conversations.open", func() error {
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
	return w.call(ctx, "views.open", func() error {
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
	return w.call(ctx, "chat.postEphemeral", func() error {
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
	return w.call(ctx, "response_url", func() error {
		_, _, err := w.API.PostMessageContext(ctx, "", slack.MsgOptionResponseURL(responseURL, slack.ResponseTypeEphemeral),
			slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...))
		return err
	})
}
