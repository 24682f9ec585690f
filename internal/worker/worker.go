// Package worker runs the scheduled side of the approval lifecycle: it
// applies due timeouts, warnings and expiries, and delivers the events the
// store holds as an outbox. It sleeps until the next due time or a change,
// so idle grants cost nothing.
package worker

import (
	"context"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"go.uber.org/zap"

	"github.com/share-bucket/share-bucket/internal/approval"
	"github.com/share-bucket/share-bucket/internal/metrics"
)

// Lifecycle applies due changes and carries out events; *approval.Service
// is one.
type Lifecycle interface {
	// Tick applies what is due for request id and returns its events.
	Tick(ctx context.Context, id string) ([]approval.Event, error)
	// Deliver carries out an event; an error means try again later.
	Deliver(ctx context.Context, ev approval.Event) error
	// Changed fires after writes that may bring work forward.
	Changed() <-chan struct{}
	// GiveUp settles an event that will not be tried again, err being
	// its last failure, so what it was for is not left hanging.
	GiveUp(ctx context.Context, ev approval.Event, err error) error
}

// Outbox finds due requests and leases undelivered events; an
// approval.Store is one. The methods are approval.Store's.
type Outbox interface {
	Due(ctx context.Context, now time.Time, limit int) ([]string, error)
	Wake(ctx context.Context) (at time.Time, ok bool, err error)
	Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]approval.Event, error)
	Delivered(ctx context.Context, seq int64, owner string, now time.Time) error
	Retry(ctx context.Context, seq int64, owner string, at time.Time, lastErr string) error
}

// Worker is the scheduler and outbox dispatcher. Several workers (one per
// replica) may share a store: due changes are compare-and-swapped and
// events are leased, so each is done once.
type Worker struct {
	Service Lifecycle
	Outbox  Outbox
	Clock   clockwork.Clock
	Log     *zap.Logger
	Metrics *metrics.Metrics
	// Owner names this process in event leases.
	Owner string
	// Lease is how long a claimed event is ours. Zero means 2 minutes.
	Lease time.Duration
	// MaxIdle is the longest sleep without looking at the store, which
	// bounds how late work written by another replica is noticed. Zero
	// means one minute.
	MaxIdle time.Duration
	// Concurrency bounds deliveries in flight. Zero means 8.
	Concurrency int
	// MaxAttempts is how often a delivery is tried before it is given
	// up. Zero means 10.
	MaxAttempts int
	// DeliveryTimeout bounds one delivery. Zero means one minute.
	DeliveryTimeout time.Duration

	// Deliveries run on workCtx, which outlives Run so that a notice under
	// way when Run's context ends is finished rather than cut in half;
	// Shutdown ends it.
	workOnce   sync.Once
	workCtx    context.Context
	cancelWork context.CancelFunc
	inflight   sync.WaitGroup
}

const dueBatch = 100

func (w *Worker) defaults() {
	if w.Clock == nil {
		w.Clock = clockwork.NewRealClock()
	}
	if w.Log == nil {
		w.Log = zap.NewNop()
	}
	if w.Lease == 0 {
		w.Lease = 2 * time.Minute
	}
	if w.MaxIdle == 0 {
		w.MaxIdle = time.Minute
	}
	if w.Concurrency == 0 {
		w.Concurrency = 8
	}
	if w.MaxAttempts == 0 {
		w.MaxAttempts = 10
	}
	if w.DeliveryTimeout == 0 {
		w.DeliveryTimeout = time.Minute
	}
	if w.Owner == "" {
		w.Owner = approval.NewID("")
	}
}

func (w *Worker) initWork() {
	w.workOnce.Do(func() { w.workCtx, w.cancelWork = context.WithCancel(context.Background()) })
}

// Run works until ctx ends. It does not wait for deliveries still under
// way; Shutdown does. Each delivery is bounded by DeliveryTimeout.
func (w *Worker) Run(ctx context.Context) error {
	w.defaults()
	w.initWork()
	slots := make(chan struct{}, w.Concurrency)
	finished := make(chan struct{}, 1)

	recheck := true
	for ctx.Err() == nil {
		progress := w.fireDue(ctx)
		progress = w.dispatch(ctx, slots, finished) || progress
		if progress {
			recheck = true
			continue
		}
		at, ok := w.wake(ctx)
		// Measure the wait right before arming the timer: the store query
		// above takes time, and a clock that moved meanwhile (a fake one
		// in tests, or a long pause) must not make the sleep too long.
		wait := w.sleepFor(at, ok)
		if wait <= 0 {
			// Something is due that this round did not take. It may have
			// come due during the round: look once more. If it is still
			// there, it waits behind a delivery in flight (whose end
			// wakes us) or keeps failing: nap briefly, never spin.
			if recheck && len(slots) == 0 {
				recheck = false
				continue
			}
			wait = 50 * time.Millisecond
		}
		recheck = true
		timer := w.Clock.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-timer.Chan():
		case <-w.Service.Changed():
		case <-finished:
		}
		timer.Stop()
	}
	return nil
}

// Shutdown waits until the deliveries under way have finished. If ctx ends
// first, it cancels them and returns ctx's error. Call it after Run has
// returned.
func (w *Worker) Shutdown(ctx context.Context) error {
	w.initWork()
	done := make(chan struct{})
	go func() { w.inflight.Wait(); close(done) }()
	defer w.cancelWork()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fireDue applies every due timeout, warning and expiry. It reports
// whether a full batch was handled, meaning more may be waiting.
func (w *Worker) fireDue(ctx context.Context) bool {
	ids, err := w.Outbox.Due(ctx, w.Clock.Now(), dueBatch)
	if err != nil {
		if ctx.Err() == nil {
			w.Log.Error("find due requests", zap.Error(err))
		}
		return false
	}
	changed := 0
	for _, id := range ids {
		evs, err := w.Service.Tick(ctx, id)
		if err != nil {
			w.Log.Error("apply due change", zap.String("request_id", id), zap.Error(err))
			continue
		}
		for _, ev := range evs {
			changed++
			w.Log.Info("scheduled change", zap.String("request_id", id), zap.String("event", string(ev.Kind)))
		}
	}
	return len(ids) == dueBatch && changed > 0
}

// dispatch claims as many events as there are free slots and delivers them
// in the background. It reports whether it filled every slot.
func (w *Worker) dispatch(ctx context.Context, slots chan struct{}, finished chan struct{}) bool {
	free := cap(slots) - len(slots)
	if free == 0 {
		return false
	}
	evs, err := w.Outbox.Claim(ctx, w.Owner, w.Clock.Now(), w.Lease, free)
	if err != nil {
		if ctx.Err() == nil {
			w.Log.Error("claim events", zap.Error(err))
		}
		return false
	}
	for _, ev := range evs {
		slots <- struct{}{}
		w.inflight.Add(1)
		go func() {
			defer w.inflight.Done()
			defer func() {
				<-slots
				select {
				case finished <- struct{}{}:
				default:
				}
			}()
			w.deliver(w.workCtx, ev)
		}()
	}
	return len(evs) == free
}

func (w *Worker) deliver(ctx context.Context, ev approval.Event) {
	log := w.Log.With(zap.String("request_id", ev.RequestID), zap.String("event", string(ev.Kind)), zap.Int64("seq", ev.Seq))
	ctx, cancel := context.WithTimeout(ctx, w.DeliveryTimeout)
	defer cancel()
	err := w.Service.Deliver(ctx, ev)
	now := w.Clock.Now()
	if err == nil {
		if err := w.Outbox.Delivered(ctx, ev.Seq, w.Owner, now); err != nil {
			log.Error("mark delivered", zap.Error(err))
			return
		}
		w.Metrics.Notices.WithLabelValues(string(ev.Kind)).Inc()
		log.Info("event delivered", zap.Int("attempts", ev.Attempts))
		return
	}
	var next time.Time
	if ev.Attempts < w.MaxAttempts {
		next = now.Add(backoff(ev.Attempts))
		log.Warn("delivery failed; will retry", zap.Error(err), zap.Int("attempts", ev.Attempts), zap.Time("retry_at", next))
	} else {
		log.Error("delivery failed; giving up", zap.Error(err), zap.Int("attempts", ev.Attempts))
		// The delivery may have used up ctx: settle on a context of its own.
		gctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		if gerr := w.Service.GiveUp(gctx, ev, err); gerr != nil {
			log.Error("record the give-up", zap.Error(gerr))
		}
		cancel()
	}
	if rerr := w.Outbox.Retry(ctx, ev.Seq, w.Owner, next, err.Error()); rerr != nil {
		log.Error("release event", zap.Error(rerr))
	}
}

// backoff is the wait before attempt n+1: 2 s, 4 s, … up to 5 minutes.
func backoff(attempts int) time.Duration {
	d := 2 * time.Second << min(attempts, 8)
	return min(d/2, 5*time.Minute)
}

// wake returns the store's next due time, if any.
func (w *Worker) wake(ctx context.Context) (time.Time, bool) {
	at, ok, err := w.Outbox.Wake(ctx)
	if err != nil {
		if ctx.Err() == nil {
			w.Log.Error("find next due time", zap.Error(err))
		}
		return time.Time{}, false
	}
	return at, ok
}

// sleepFor returns how long to sleep until at, at most MaxIdle; zero or
// less when at has passed.
func (w *Worker) sleepFor(at time.Time, ok bool) time.Duration {
	if !ok {
		return w.MaxIdle
	}
	return min(at.Sub(w.Clock.Now()), w.MaxIdle)
}
