package slackapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
	"go.uber.org/zap"

	"github.com/share-bucket/share-bucket/internal/metrics"
)

// Socket runs the Socket Mode connection: it acks every envelope first,
// then does the slow work in a goroutine of its own. It survives refreshes
// and transient errors and stops with an error on fatal ones.
//
// Reconnecting is Socket's, not slack-go's: slack-go retries a failed
// connection attempt after a backoff that doubles without bound (past 200 s
// within minutes of an outage), which would keep the bot away long after
// Slack is back. So each attempt runs slack-go's loop under a context of
// its own, which Socket cancels as soon as slack-go reports the attempt
// failed (or it has taken longer than ConnectTimeout), and Socket starts
// the loop again after its own bounded backoff with jitter
// (ReconnectMin, ReconnectMax), honouring a Retry-After from Slack. A
// refresh or a dropped connection is still reconnected by slack-go at once.
type Socket struct {
	Client  *socketmode.Client
	App     *App
	Log     *zap.Logger
	Metrics *metrics.Metrics
	// WorkTimeout bounds each piece of after-ack work. Zero means 30 s.
	WorkTimeout time.Duration
	// ReconnectMin and ReconnectMax bound the wait between failed
	// connection attempts: it doubles from ReconnectMin with each failure
	// in a row up to ReconnectMax, and a random part of it (up to a half)
	// is taken off, so replicas do not retry in step. Zero means 1 s and
	// 15 s, so the socket is back within about 15 s of Slack's return.
	ReconnectMin, ReconnectMax time.Duration
	// ConnectTimeout bounds one connection attempt (apps.connections.open
	// and the WebSocket handshake). Zero means 20 s.
	ConnectTimeout time.Duration

	connected atomic.Bool
	opened    atomic.Int64
	seen      dedupe
	failures  atomic.Int64 // failed connection attempts in a row
	// retryAfter is Slack's Retry-After (nanoseconds) on the latest
	// failed attempt, if it was rate limited.
	retryAfter atomic.Int64
	abortMu    sync.Mutex
	abort      context.CancelFunc // ends the current run of slack-go's loop

	// After-ack work runs on workCtx, which outlives Run so that work
	// under way when Run's context ends can finish; Shutdown ends it.
	workOnce   sync.Once
	workCtx    context.Context
	cancelWork context.CancelFunc
	work       sync.WaitGroup
	gate       gate
	queue      workQueue
}

// FatalError is a Socket Mode error that retrying cannot fix, such as a
// revoked token.
type FatalError struct{ Err error }

func (e *FatalError) Error() string {
	return fmt.Sprintf("slack socket mode: %v (check SLACK_APP_TOKEN and the app's Socket Mode setting)", e.Err)
}

func (e *FatalError) Unwrap() error { return e.Err }

// fatalCodes are errors from apps.connections.open that no retry fixes.
var fatalCodes = map[string]bool{
	"invalid_auth": true, "not_authed": true, "account_inactive": true, "token_revoked": true,
	"token_expired": true, "missing_scope": true, "not_allowed_token_type": true, "team_disabled": true,
	"user_removed_from_team": true, "invalid_token": true,
}

func isFatal(err error) bool {
	if err == nil {
		return false
	}
	if fatalCodes[err.Error()] {
		return true
	}
	if se, ok := errors.AsType[slack.SlackErrorResponse](err); ok && fatalCodes[se.Err] {
		return true
	}
	if sc, ok := errors.AsType[slack.StatusCodeError](err); ok && (sc.Code == 401 || sc.Code == 403 || sc.Code == 404) {
		return true
	}
	return false
}

// Connected reports whether the socket is up (for /readyz).
func (s *Socket) Connected() bool { return s.connected.Load() }

// afterAckWorkers bounds the goroutines running after-ack work: enough
// for work that waits on the network (a link from AWS takes seconds) not
// to hold up the rest, few enough not to swamp the CPU after a burst
// (measured: 4 and 32 ack bursts alike).
const afterAckWorkers = 16

func (s *Socket) initWork() {
	s.workOnce.Do(func() {
		s.workCtx, s.cancelWork = context.WithCancel(context.Background())
		s.queue = workQueue{gate: &s.gate, max: afterAckWorkers}
	})
}

// Run connects and serves until ctx ends (returning nil) or a fatal error.
// It does not wait for after-ack work still under way; Shutdown does.
func (s *Socket) Run(ctx context.Context) error {
	s.initWork()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- s.runClient(ctx) }()
	connectTimeout := s.ConnectTimeout
	if connectTimeout == 0 {
		connectTimeout = 20 * time.Second
	}
	watchdog := time.NewTimer(time.Hour)
	watchdog.Stop()
	defer watchdog.Stop()
	for {
		select {
		case ev := <-s.Client.Events:
			s.handle(ev)
			switch ev.Type {
			case socketmode.EventTypeConnecting:
				watchdog.Reset(connectTimeout)
			case socketmode.EventTypeConnected:
				watchdog.Stop()
			case socketmode.EventTypeHello:
				s.failures.Store(0)
				s.retryAfter.Store(0)
			case socketmode.EventTypeConnectionError:
				watchdog.Stop()
				ce, _ := ev.Data.(*slack.ConnectionErrorEvent)
				var cerr error
				if ce != nil {
					cerr = ce.ErrorObj
				}
				// slack-go gives up on only four of the refusals that no
				// retry fixes and retries the rest for ever; stop on those.
				if isFatal(cerr) {
					cancel()
					<-errc
					s.connected.Store(false)
					return &FatalError{Err: cerr}
				}
				// Take the retry over from slack-go, whose backoff has no
				// useful bound.
				s.retryAfter.Store(0)
				if rl, ok := errors.AsType[*slack.RateLimitedError](cerr); ok {
					s.retryAfter.Store(int64(rl.RetryAfter))
				}
				s.abortAttempt()
			}
		case <-watchdog.C:
			s.Log.Warn("slack connection attempt timed out", zap.Duration("timeout", connectTimeout))
			s.abortAttempt()
		case err := <-errc:
			s.connected.Store(false)
			return err
		}
	}
}

// abortAttempt ends the current run of slack-go's loop; runClient starts
// the next after its backoff.
func (s *Socket) abortAttempt() {
	s.abortMu.Lock()
	defer s.abortMu.Unlock()
	if s.abort != nil {
		s.abort()
	}
}

// runClient runs slack-go's connection loop, each run under a context of
// its own that Run cancels when a connection attempt fails, and starts it
// again after a backoff, until ctx ends or an error is fatal.
func (s *Socket) runClient(ctx context.Context) error {
	for {
		actx, abort := context.WithCancel(ctx)
		s.abortMu.Lock()
		s.abort = abort
		s.abortMu.Unlock()
		err := s.Client.RunContext(actx)
		abort()
		switch {
		case ctx.Err() != nil:
			return nil
		case isFatal(err):
			return &FatalError{Err: err}
		}
		s.connected.Store(false)
		wait := s.backoff()
		if actx.Err() == nil {
			// slack-go's loop ended of its own accord.
			s.Log.Warn("socket mode loop ended; restarting", zap.Error(err), zap.Duration("backoff", wait))
		} else {
			s.Log.Info("connecting to slack again", zap.Duration("backoff", wait), zap.Int64("failures", s.failures.Load()))
		}
		if sleep(ctx, wait) != nil {
			return nil
		}
	}
}

// backoff returns the wait before the next connection attempt and counts
// the failure: ReconnectMin doubled per failure in a row, at most
// ReconnectMax, less up to half of it at random; never shorter than a
// Retry-After Slack gave.
func (s *Socket) backoff() time.Duration {
	lo, hi := s.ReconnectMin, s.ReconnectMax
	if lo <= 0 {
		lo = time.Second
	}
	if hi <= 0 {
		hi = 15 * time.Second
	}
	n := s.failures.Add(1) - 1
	d := hi
	if n < 30 {
		d = min(lo<<n, hi)
	}
	d -= rand.N(d/2 + 1)
	return max(d, time.Duration(s.retryAfter.Load()))
}

// Shutdown waits until the after-ack work under way has finished. If ctx
// ends first, it cancels that work and returns ctx's error. Call it after
// Run has returned.
func (s *Socket) Shutdown(ctx context.Context) error {
	s.initWork()
	return shutdown(ctx, &s.work, s.cancelWork)
}

// shutdown waits for wg, or cancels the work it counts once ctx ends.
func shutdown(ctx context.Context, wg *sync.WaitGroup, cancel context.CancelFunc) error {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		cancel()
		return nil
	case <-ctx.Done():
		cancel()
		return ctx.Err()
	}
}

func (s *Socket) handle(ev socketmode.Event) {
	switch ev.Type {
	case socketmode.EventTypeConnecting:
		s.connected.Store(false)
		s.Log.Debug("connecting to slack")
	case socketmode.EventTypeConnected:
		if s.opened.Add(1) > 1 {
			s.Metrics.Reconnects.Inc()
		}
	case socketmode.EventTypeHello:
		s.connected.Store(true)
		s.Log.Info("connected to slack")
	case socketmode.EventTypeConnectionError:
		s.connected.Store(false)
		s.Log.Warn("slack connection problem", zap.String("event", string(ev.Type)), zap.Any("detail", errorOf(ev.Data)))
	case socketmode.EventTypeIncomingError:
		// Not a sign of being down: slack-go reports unreadable frames and
		// keeps the connection, and a connection it has already replaced
		// may report its read error after the new one's hello. A failed
		// read on the live connection is followed by EventTypeConnecting.
		s.Log.Warn("slack connection problem", zap.String("event", string(ev.Type)), zap.Any("detail", errorOf(ev.Data)))
	case socketmode.EventTypeInvalidAuth:
		s.connected.Store(false)
		s.Log.Error("slack rejected the app token")
	case socketmode.EventTypeErrorBadMessage:
		s.Log.Warn("unreadable socket mode message ignored", zap.Any("detail", errorOf(ev.Data)))
		// Ack it anyway when it names its envelope, so Slack does not
		// retry something the bot will never be able to read.
		if bad, ok := ev.Data.(*socketmode.ErrorBadMessage); ok {
			var env struct {
				EnvelopeID string `json:"envelope_id"`
			}
			if json.Unmarshal(bad.Message, &env) == nil && env.EnvelopeID != "" {
				s.ack(&socketmode.Request{EnvelopeID: env.EnvelopeID}, nil, time.Now())
			}
		}
	case socketmode.EventTypeErrorWriteFailed:
		s.Log.Warn("socket mode write failed", zap.Any("detail", errorOf(ev.Data)))
	case socketmode.EventTypeSlashCommand:
		cmd, ok := ev.Data.(slack.SlashCommand)
		s.serve(ev.Request, ok, func() (any, afterAck) { return s.App.Slash(cmd) })
	case socketmode.EventTypeInteractive:
		cb, ok := ev.Data.(slack.InteractionCallback)
		s.serve(ev.Request, ok, func() (any, afterAck) { return s.App.Interaction(cb) })
	case socketmode.EventTypeEventsAPI:
		data, ok := ev.Data.(slackevents.EventsAPIEvent)
		s.serve(ev.Request, ok, func() (any, afterAck) { return s.App.Event(data) })
	}
}

// serve acks req with what handle computes, then runs the work. A
// redelivered envelope is acked again but not handled twice.
func (s *Socket) serve(req *socketmode.Request, ok bool, handle func() (any, afterAck)) {
	if req == nil {
		return
	}
	start := time.Now()
	s.gate.envelope(start)
	if !s.seen.add(req.EnvelopeID, start) {
		s.ack(req, nil, start)
		s.Log.Info("duplicate envelope acked and ignored", zap.String("envelope_id", req.EnvelopeID), zap.Int("retry_attempt", req.RetryAttempt))
		return
	}
	if !ok {
		s.ack(req, nil, start)
		s.Log.Warn("envelope with an unexpected payload ignored", zap.String("type", req.Type))
		return
	}
	payload, w := handle()
	s.ack(req, payload, start)
	if w == nil {
		return
	}
	// The work waits in the queue until the acks are done (see gate), so
	// it neither takes the CPU from slack-go's writer, which the ack was
	// just handed to, nor from the envelopes behind this one.
	s.work.Add(1)
	s.queue.push(func() {
		defer s.work.Done()
		timeout := s.WorkTimeout
		if timeout == 0 {
			timeout = 30 * time.Second
		}
		ctx, cancel := context.WithTimeout(s.workCtx, timeout)
		defer cancel()
		defer func() {
			if p := recover(); p != nil {
				s.Log.Error("handler panicked", zap.Any("panic", p), zap.String("envelope_id", req.EnvelopeID))
			}
		}()
		w(ctx)
	})
}

func (s *Socket) ack(req *socketmode.Request, payload any, start time.Time) {
	var err error
	if payload == nil {
		err = s.Client.Ack(*req)
	} else {
		err = s.Client.Ack(*req, payload)
	}
	s.Metrics.AckLatency.Observe(time.Since(start).Seconds())
	if err != nil {
		s.Log.Error("ack failed", zap.String("envelope_id", req.EnvelopeID), zap.Error(err))
	}
}

func errorOf(data any) string {
	switch d := data.(type) {
	case *slack.ConnectionErrorEvent:
		return d.Error()
	case *slack.IncomingEventError:
		return d.Error()
	case *socketmode.ErrorBadMessage:
		return d.Cause.Error()
	case *socketmode.ErrorWriteFailed:
		return d.Cause.Error()
	case error:
		return d.Error()
	}
	return fmt.Sprint(data)
}

// dedupe remembers recently seen envelope IDs.
type dedupe struct {
	mu    sync.Mutex
	seen  map[string]time.Time
	swept time.Time
}

const dedupeWindow = 15 * time.Minute

// add records id and reports whether it was new.
func (d *dedupe) add(id string, now time.Time) bool {
	if id == "" {
		return true
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.seen == nil {
		d.seen = make(map[string]time.Time)
	}
	if _, dup := d.seen[id]; dup {
		return false
	}
	// Forget old IDs, at most once a minute: sweeping on every envelope
	// would scan the whole map each time once it is full.
	if len(d.seen) >= 10000 && now.Sub(d.swept) > time.Minute {
		d.swept = now
		for k, t := range d.seen {
			if now.Sub(t) > dedupeWindow {
				delete(d.seen, k)
			}
		}
	}
	d.seen[id] = now
	return true
}
