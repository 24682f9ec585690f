package slackapp_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/slack-go/slack"
	"go.uber.org/zap"

	"github.com/share-bucket/share-bucket/internal/metrics"
	"github.com/share-bucket/share-bucket/internal/slackapp"
)

// limitingAPI refuses the first post to a channel with a 429 and records
// when each post arrived.
type limitingAPI struct {
	*recordingAPI
	channel    string
	retryAfter time.Duration

	mu      sync.Mutex
	refused int
	posts   map[string][]time.Time // accepted posts by channel
}

func (a *limitingAPI) PostMessageContext(ctx context.Context, ch string, opts ...slack.MsgOption) (string, string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ch == a.channel && a.refused == 0 {
		a.refused++
		return "", "", &slack.RateLimitedError{RetryAfter: a.retryAfter}
	}
	a.posts[ch] = append(a.posts[ch], time.Now())
	return ch, "1700000009.000100", nil
}

// TestPauseMovesSchedule: a 429 on one post pauses its channel once. The
// posts already waiting their turns there do not go out during the pause
// (each would be refused and pause the channel again), but after it, still
// spaced by the pacing; another channel is not held up.
func TestPauseMovesSchedule(t *testing.T) {
	t.Parallel()
	api := &limitingAPI{recordingAPI: &recordingAPI{}, channel: "C1", retryAfter: 600 * time.Millisecond, posts: map[string][]time.Time{}}
	w := slackapp.NewWeb(api, zap.NewNop(), metrics.New())
	w.PostInterval = 100 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	const n = 5
	for range n {
		wg.Go(func() {
			if _, _, err := w.Post(ctx, "C1", "queued", nil); err != nil {
				t.Errorf("post to C1: %v", err)
			}
		})
		time.Sleep(10 * time.Millisecond) // take turns in order
	}
	time.Sleep(100 * time.Millisecond)
	if _, _, err := w.Post(ctx, "C2", "elsewhere", nil); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 400*time.Millisecond {
		t.Errorf("a post to another channel went out after %v, held up by the pause", d)
	}
	wg.Wait()
	api.mu.Lock()
	defer api.mu.Unlock()
	if api.refused != 1 {
		t.Errorf("%d posts refused; want only the first", api.refused)
	}
	posts := api.posts["C1"]
	if len(posts) != n {
		t.Fatalf("%d posts to C1 went out; want %d", len(posts), n)
	}
	for i, at := range posts {
		if d := at.Sub(start); d < 600*time.Millisecond {
			t.Errorf("post %d went out %v after the start, during the pause", i, d)
		}
		if i > 0 {
			if gap := at.Sub(posts[i-1]); gap < 80*time.Millisecond {
				t.Errorf("post %d went out %v after the one before; want the pacing's 100 ms", i, gap)
			}
		}
	}
	if last := posts[n-1].Sub(start); last > 600*time.Millisecond+n*100*time.Millisecond+500*time.Millisecond {
		t.Errorf("the last post went out %v after the start; the pause moved the schedule more than once", last)
	}
}

// TestWaitDecidesTheWait: pacing waits go through Web.Wait, which may give
// the post up for now; the post then fails with Wait's error, keeps its
// turn for its key, and counts as no Slack error.
func TestWaitDecidesTheWait(t *testing.T) {
	t.Parallel()
	api := &recordingAPI{}
	m := metrics.New()
	w := slackapp.NewWeb(api, zap.NewNop(), m)
	w.PostInterval = time.Hour
	errLater := errors.New("later")
	var waits []time.Duration
	w.Wait = func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		return errLater
	}
	ctx := context.Background()
	if _, _, err := w.Post(ctx, "C1", "first", nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.Post(ctx, "C1", "second", nil); !errors.Is(err, errLater) {
		t.Fatalf("post whose turn is an hour off = %v; want Wait's error", err)
	}
	if len(waits) != 1 || waits[0] < 59*time.Minute {
		t.Errorf("Wait asked for %v; want one wait of about an hour", waits)
	}
	series := make(chan prometheus.Metric, 10)
	m.SlackErrors.Collect(series)
	close(series)
	if n := len(series); n != 0 {
		t.Errorf("%d Slack error series after a deferred post; want none", n)
	}
	if n := len(api.all()); n != 1 {
		t.Errorf("%d posts sent; want 1", n)
	}
}
