package slackapp

import (
	"context"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"go.uber.org/zap"
)

// Homes keeps the App Home of each user who has opened it in this
// process in step with their requests: a user's Home is published when
// they open it, and again when something of theirs changes, paced within
// Slack's limit for views.publish (Tier 4, about 100 a minute).
type Homes struct {
	App *App
	// Interval is the least time between two publishes. Zero means 700 ms.
	Interval time.Duration

	mu    sync.Mutex
	known map[string]bool // users who opened their Home
	dirty []string        // users whose Home must be published again, in order
	wake  chan struct{}
}

// Event handles an Events API envelope: it acks at once and publishes the
// Home of a user who opened it after the ack.
func (a *App) Event(ev slackevents.EventsAPIEvent) (any, afterAck) {
	opened, ok := ev.InnerEvent.Data.(*slackevents.AppHomeOpenedEvent)
	if !ok || opened.Tab != "home" || !ValidUserID(opened.User) || a.Homes == nil {
		return nil, nil
	}
	return nil, func(ctx context.Context) { a.Homes.Opened(ctx, opened.User) }
}

// Opened publishes user's Home now and keeps it current from then on.
func (h *Homes) Opened(ctx context.Context, user string) {
	h.mu.Lock()
	if h.known == nil {
		h.known = map[string]bool{}
	}
	h.known[user] = true
	h.mu.Unlock()
	h.publish(ctx, user)
}

// Touch marks the Homes of users as stale, if they have one.
func (h *Homes) Touch(users ...string) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, u := range users {
		if h.known[u] && !contains(h.dirty, u) {
			h.dirty = append(h.dirty, u)
		}
	}
	if h.wake == nil {
		h.wake = make(chan struct{}, 1)
	}
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Run publishes stale Homes, one per Interval, until ctx ends.
func (h *Homes) Run(ctx context.Context) {
	every := h.Interval
	if every == 0 {
		every = 700 * time.Millisecond
	}
	h.mu.Lock()
	if h.wake == nil {
		h.wake = make(chan struct{}, 1)
	}
	wake := h.wake
	h.mu.Unlock()
	for {
		h.mu.Lock()
		var user string
		if len(h.dirty) > 0 {
			user, h.dirty = h.dirty[0], h.dirty[1:]
		}
		h.mu.Unlock()
		if user == "" {
			select {
			case <-ctx.Done():
				return
			case <-wake:
				continue
			}
		}
		h.publish(ctx, user)
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// homePageSize is how many requests waiting for a decision the Home tab
// shows; `list` pages through the rest.
const homePageSize = 20

// publish renders and publishes user's Home.
func (h *Homes) publish(ctx context.Context, user string) {
	a := h.App
	log := a.Log.With(zap.String("user_id", user))
	l, err := a.Service.ListPage(ctx, user, 1, homePageSize)
	if err != nil {
		log.Error("list for the home tab", zap.Error(err))
		return
	}
	approver := a.Service.IsApprover(user)
	view := HomeView(l, approver, a.Service.Policy.ApprovalsRequired, a.Service.CanExtend)
	if err := a.Web.PublishHome(ctx, user, view); err != nil {
		log.Warn("publish the home tab", zap.Error(err))
	}
}

// PublishHome publishes view as user's App Home.
func (w *Web) PublishHome(ctx context.Context, user string, view slack.HomeTabViewRequest) error {
	return w.call(ctx, "views.publish", "", func() error {
		_, err := w.API.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: user, View: view})
		return err
	})
}
