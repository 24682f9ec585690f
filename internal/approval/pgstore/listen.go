package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"time"

	"github.com/jackc/pgx/v5"
)

// A Listener hears the notifications that replicas sharing a store send
// after writes that may bring work forward, and passes them on through C,
// so a worker sleeping until its next due time looks again at once (see
// worker.Worker.Changes). It listens on a connection of its own, outside
// the store's pool, and makes it again when it drops.
//
// Notifications sent while the connection is down are lost, so after each
// (re)connection C fires once anyway. A replica also hears its own
// notifications; a worker then looks at the store once more, which costs a
// few index lookups.
type Listener struct {
	// OnError, if set, is told why the connection failed or dropped,
	// before it is made again.
	OnError func(err error)
	// MinBackoff and MaxBackoff bound the wait before connecting again:
	// it doubles from MinBackoff with each failure in a row, up to
	// MaxBackoff, with jitter. Zero means 250 ms and 10 s.
	MinBackoff, MaxBackoff time.Duration
	// PingInterval is how long the connection may be quiet before the
	// listener checks that it is still alive. Zero means 30 s.
	PingInterval time.Duration

	cfg *pgx.ConnConfig
	c   chan struct{}
}

// NewListener returns a Listener for the store at dsn (the same DSN as
// Open's, so the same schema). It returns an error if dsn does not parse;
// it does not connect until Run.
func NewListener(dsn string) (*Listener, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	// Find a dead connection within a minute even if the kernel's
	// keepalive defaults would take hours; the pings do the rest.
	dialer := &net.Dialer{KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: 15 * time.Second, Interval: 5 * time.Second, Count: 3}}
	cfg.DialFunc = dialer.DialContext
	return &Listener{cfg: cfg, c: make(chan struct{}, 1)}, nil
}

// C fires after another replica (or this one) wrote work, and after each
// (re)connection. Signals that come while one is pending merge into it.
func (l *Listener) C() <-chan struct{} { return l.c }

func (l *Listener) signal() {
	select {
	case l.c <- struct{}{}:
	default:
	}
}

// Run listens until ctx ends, then returns nil. Connection failures are
// reported to OnError and retried with backoff; they never end Run.
func (l *Listener) Run(ctx context.Context) error {
	minB, maxB := l.MinBackoff, l.MaxBackoff
	if minB <= 0 {
		minB = 250 * time.Millisecond
	}
	if maxB <= 0 {
		maxB = 10 * time.Second
	}
	backoff := minB
	for {
		listened, err := l.listen(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if listened {
			backoff = minB
		}
		if l.OnError != nil {
			l.OnError(err)
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, maxB)
	}
}

// listen connects, listens and passes notifications on until the
// connection fails or ctx ends. listened reports whether it got as far as
// listening.
func (l *Listener) listen(ctx context.Context) (listened bool, err error) {
	conn, err := pgx.ConnectConfig(ctx, l.cfg)
	if err != nil {
		return false, fmt.Errorf("pgstore: listener: connect: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	var schema string
	if err := conn.QueryRow(ctx, "SELECT COALESCE(current_schema(), '')").Scan(&schema); err != nil {
		return false, fmt.Errorf("pgstore: listener: current schema: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{notifyChannel(schema)}.Sanitize()); err != nil {
		return false, fmt.Errorf("pgstore: listener: listen: %w", err)
	}
	l.signal() // what was written while nobody listened
	ping := l.PingInterval
	if ping <= 0 {
		ping = 30 * time.Second
	}
	for {
		// A deadline does not break a pgx connection that was only
		// waiting; a quiet connection is then pinged.
		wctx, cancel := context.WithTimeout(ctx, ping)
		_, err := conn.WaitForNotification(wctx)
		quiet := wctx.Err() != nil
		cancel()
		switch {
		case err == nil:
			l.signal()
		case ctx.Err() != nil:
			return true, ctx.Err()
		case quiet && errors.Is(err, context.DeadlineExceeded):
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := conn.Ping(pctx)
			cancel()
			if err != nil {
				return true, fmt.Errorf("pgstore: listener: ping: %w", err)
			}
		default:
			return true, fmt.Errorf("pgstore: listener: %w", err)
		}
	}
}
