// Package worker runs the scheduled side of the approval lifecycle: it
// applies due timeouts, warnings and expiries, and delivers the events the
// store holds as an outbox. It sleeps until the next due time or a change,
// so idle grants cost nothing.
//
// # Fair delivery
//
// Slack lets a bot post about one message per second per channel, so a
// burst of requests queues posts in the approval channel while a DM to
// someone else could go at once. A notice must never wait behind another
// channel's queue. The worker therefore keeps two things apart:
//
//   - Slots. At most Concurrency deliveries are at work (reading the
//     store, calling AWS and Slack). Events are claimed only for free
//     slots, earliest due first.
//   - Turns. A delivery that must wait for its channel's turn (pacing, or
//     a 429's Retry-After) waits through Wait, which gives its slot back
//     for the wait, so other channels' notices are claimed and sent
//     meanwhile, and takes a slot again when its turn comes. A turn further
//     off than MaxWait is not waited for at all: Wait returns a *DeferError,
//     the delivery gives up its attempt, and the event goes back to the
//     outbox (Outbox.Defer, which does not count the attempt) until just
//     before its turn. The Slack side keeps that turn for the event (see
//     slackapp.Web), so a backlog of n posts costs each event one extra
//     claim, not n.
//
// A delivery waits only within its deadline (DeliveryTimeout, shorter than
// Lease), so its lease never runs out while a post waits its turn: a lease
// that ran out would let another replica post the same message again.
// Order per request is kept by the store: only the oldest undelivered event
// of a request can be claimed, and a deferred event stays the oldest.
//
// # Replicas
//
// Replicas share the store. Each worker wakes on its own writes (the
// service's Changed) and, through Changes, on other replicas' writes (the
// PostgreSQL store's LISTEN/NOTIFY), so work written by a replica that then
// dies is picked up at once; MaxIdle only bounds how late it is noticed if
// a notification is lost.
package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
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
	Defer(ctx context.Context, seq int64, owner string, at time.Time) error
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
	// bounds how late work written by another replica is noticed when no
	// notification on Changes tells of it. Zero means one minute.
	MaxIdle time.Duration
	// Changes, if set, fires when another process wrote something to the
	// shared store that may bring work forward (the PostgreSQL store's
	// LISTEN/NOTIFY); the worker then looks at the store at once.
	Changes <-chan struct{}
	// Concurrency bounds deliveries at work; those waiting in Wait for
	// their turn do not count. Zero means 8.
	Concurrency int
	// MaxWait is the longest a delivery waits in Wait for its turn while
	// holding its event's lease; a turn further off defers the event.
	// Zero means 10 seconds.
	MaxWait time.Duration
	// MaxWaiting bounds deliveries waiting in Wait at once; beyond it
	// they defer their events. Zero means 1000.
	MaxWaiting int
	// MaxAttempts is how often a delivery is tried before it is given
	// up. Zero means 10.
	MaxAttempts int
	// DeliveryTimeout bounds one delivery, waits for its turn included.
	// Zero means one minute; it is kept under Lease, so that a lease
	// never runs out during its delivery.
	DeliveryTimeout time.Duration

	// Deliveries run on workCtx, which outlives Run so that a notice under
	// way when Run's context ends is finished rather than cut in half;
	// Shutdown ends it.
	workOnce   sync.Once
	workCtx    context.Context
	cancelWork context.CancelFunc
	inflight   sync.WaitGroup

	// slots holds a token per delivery at work; finished is signalled
	// when a slot frees up. Both are made by defaults.
	slots    chan struct{}
	finished chan struct{}
	waiting  atomic.Int64 // deliveries in Wait
}

const (
	dueBatch = 100
	// deferLead brings a deferred event back this long (at most half of
	// MaxWait) before its turn, so that claiming it again does not make
	// it late.
	deferLead = 500 * time.Millisecond
	// minDefer is the shortest deferral, so that a delivery that could not
	// wait (MaxWaiting reached) does not come straight back.
	minDefer = 250 * time.Millisecond
	// bookkeepingTimeout bounds marking an event delivered or released
	// after its delivery, which may have used up its own deadline.
	bookkeepingTimeout = 10 * time.Second
)

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
	if w.MaxWait == 0 {
		w.MaxWait = 10 * time.Second
	}
	if w.MaxWaiting == 0 {
		w.MaxWaiting = 1000
	}
	if w.MaxAttempts == 0 {
		w.MaxAttempts = 10
	}
	if w.DeliveryTimeout == 0 {
		w.DeliveryTimeout = time.Minute
	}
	if w.DeliveryTimeout >= w.Lease {
		w.DeliveryTimeout = w.Lease / 2
	}
	if w.Owner == "" {
		w.Owner = approval.NewID("")
	}
	if w.slots == nil {
		w.slots = make(chan struct{}, w.Concurrency)
		w.finished = make(chan struct{}, 1)
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

	recheck := true
	for ctx.Err() == nil {
		progress := w.fireDue(ctx)
		progress = w.dispatch(ctx) || progress
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
			if recheck && len(w.slots) == 0 {
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
		case <-w.Changes:
		case <-w.finished:
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
//
// It claims two or more at a time (unless Concurrency is 1): a claim of
// several includes the latest due event besides the oldest (see
// approval.Store.Claim), so a notice that just came due is taken at once
// even behind a backlog. A single free slot waits for a second.
func (w *Worker) dispatch(ctx context.Context) bool {
	free := cap(w.slots) - len(w.slots)
	if free == 0 || free < min(2, cap(w.slots)) {
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
		// Normally free: only deliveries coming back from Wait take slots
		// meanwhile, and they are short of work.
		w.slots <- struct{}{}
		w.inflight.Add(1)
		go func() {
			defer w.inflight.Done()
			d := &delivery{w: w, held: true}
			defer d.release()
			w.deliver(w.workCtx, ev, d)
		}()
	}
	return len(evs) == free
}

// delivery is one event's delivery: whether it holds a slot.
type delivery struct {
	w    *Worker
	held bool
}

type deliveryKey struct{}

// release gives the slot back, if held, and wakes the loop to claim more.
func (d *delivery) release() {
	if !d.held {
		return
	}
	d.held = false
	<-d.w.slots
	select {
	case d.w.finished <- struct{}{}:
	default:
	}
}

// acquire takes a slot again, waiting behind the deliveries at work.
func (d *delivery) acquire(ctx context.Context) error {
	select {
	case d.w.slots <- struct{}{}:
		d.held = true
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// A DeferError is what Wait returns when a delivery should not wait for
// its turn: the turn is more than MaxWait away or past the delivery's
// deadline, or too many deliveries wait already. It is not a failure; the
// worker puts the event back into the outbox until shortly before Turn,
// without counting the attempt. Whoever gets it passes it up unchanged
// (wrapping is fine) and keeps nothing half done that a later attempt
// cannot redo.
type DeferError struct {
	// Turn is when the delivery's turn comes, by the wall clock.
	Turn time.Time
}

func (e *DeferError) Error() string {
	return fmt.Sprintf("not my turn until %s", e.Turn.Format(time.RFC3339Nano))
}

// Wait waits d for a turn: in a channel Slack paces, or one (or a method)
// rate limited by a 429's Retry-After; d is wall-clock time, as Slack's
// limits are. It returns ctx's error if ctx ends first.
//
// Called in a delivery (ctx is one the worker passed to Deliver), it gives
// the delivery's slot to others while it waits and takes one again before
// it returns, so a backlog in one channel never holds back another's
// notices. Then, instead of waiting, it returns a *DeferError when d is
// longer than MaxWait, the wait would not end well within the delivery's
// deadline, or MaxWaiting deliveries wait already. Elsewhere (after-ack
// work, tests) it just sleeps. It must not be called concurrently for one
// delivery.
func (w *Worker) Wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	dl, ok := ctx.Value(deliveryKey{}).(*delivery)
	if !ok || dl.w != w {
		return sleep(ctx, d)
	}
	turn := time.Now().Add(d)
	if deadline, ok := ctx.Deadline(); d > w.MaxWait || (ok && turn.After(deadline.Add(-w.MaxWait))) {
		return &DeferError{Turn: turn}
	}
	if w.waiting.Add(1) > int64(w.MaxWaiting) {
		w.waiting.Add(-1)
		return &DeferError{Turn: turn}
	}
	defer w.waiting.Add(-1)
	dl.release()
	err := sleep(ctx, d)
	return errors.Join(err, dl.acquire(ctx))
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

func (w *Worker) deliver(ctx context.Context, ev approval.Event, d *delivery) {
	log := w.Log.With(zap.String("request_id", ev.RequestID), zap.String("event", string(ev.Kind)), zap.Int64("seq", ev.Seq))
	dctx, cancel := context.WithTimeout(context.WithValue(ctx, deliveryKey{}, d), w.DeliveryTimeout)
	err := w.Service.Deliver(dctx, ev)
	cancel()
	// The delivery may have used up its deadline; the bookkeeping gets
	// its own.
	ctx, cancel = context.WithTimeout(ctx, bookkeepingTimeout)
	defer cancel()
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
	if de, ok := errors.AsType[*DeferError](err); ok {
		at := now.Add(max(time.Until(de.Turn)-min(deferLead, w.MaxWait/2), minDefer))
		if err := w.Outbox.Defer(ctx, ev.Seq, w.Owner, at); err != nil {
			log.Error("defer event", zap.Error(err))
			return
		}
		log.Debug("event deferred to its turn", zap.Time("turn", de.Turn), zap.Time("retry_at", at))
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
