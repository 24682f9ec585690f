package slackapp

import (
	"sync"
	"sync/atomic"
	"time"
)

// Acks first, by the CPU too. Slack waits for every envelope's ack, and a
// burst of envelopes (a team all asking at once) is acked one after the
// other by the socket's loop. The work each one leaves for after its ack
// (database writes, replies) used to start at once in a goroutine of its
// own, and on a machine with few cores took the CPU from the acks still to
// come: with two cores, a burst of 50 saw acks of 10 ms and more at p99,
// most of it spent waiting to be scheduled.
//
// So after-ack work goes into a queue, and a piece of it starts only once
// no envelope has come for a moment (the gate below, which every envelope
// closes and which opens gateQuiet after the last one): a burst is acked
// first, then worked through. Work already running is not stopped. A piece
// waits at most maxYield, so a steady stream of envelopes cannot starve
// it.

const (
	// gateQuiet is how long after the last envelope the gate opens:
	// envelopes of a burst come some tens of microseconds apart.
	gateQuiet = time.Millisecond
	// maxYield bounds how long a piece of after-ack work waits.
	maxYield = 50 * time.Millisecond
)

// gate is open once no envelope has come for gateQuiet.
type gate struct {
	last  atomic.Int64 // unix nanoseconds of the latest envelope
	shut  atomic.Bool
	mu    sync.Mutex
	open  chan struct{} // closed when the gate opens; nil while open
	timer *time.Timer
}

// envelope closes the gate for the envelope that came at now.
func (g *gate) envelope(now time.Time) {
	g.last.Store(now.UnixNano())
	if g.shut.Load() {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.shut.Load() {
		return
	}
	g.shut.Store(true)
	g.open = make(chan struct{})
	if g.timer == nil {
		g.timer = time.AfterFunc(gateQuiet, g.tick)
	} else {
		g.timer.Reset(gateQuiet)
	}
}

// tick opens the gate if no envelope came for gateQuiet, else looks again
// when that will be so.
func (g *gate) tick() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.shut.Load() {
		return
	}
	if wait := gateQuiet - time.Since(time.Unix(0, g.last.Load())); wait > 0 {
		g.timer.Reset(wait)
		return
	}
	g.shut.Store(false)
	close(g.open)
	g.open = nil
}

// wait returns once the gate is open, or after at most d.
func (g *gate) wait(d time.Duration) {
	if !g.shut.Load() {
		return
	}
	g.mu.Lock()
	ch := g.open
	g.mu.Unlock()
	if ch == nil {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	}
}

// workQueue runs after-ack work oldest first on up to max goroutines, each
// piece once the gate lets it. A goroutine is started when work is queued
// and fewer than max run; it ends when the queue is empty, so a burst
// starts at most max of them, not one per envelope.
type workQueue struct {
	gate *gate
	max  int

	mu      sync.Mutex
	jobs    []func()
	workers int
}

// push queues job. It never blocks.
func (q *workQueue) push(job func()) {
	q.mu.Lock()
	q.jobs = append(q.jobs, job)
	start := q.workers < q.max
	if start {
		q.workers++
	}
	q.mu.Unlock()
	if start {
		go q.work()
	}
}

func (q *workQueue) work() {
	for {
		q.gate.wait(maxYield)
		q.mu.Lock()
		if len(q.jobs) == 0 {
			q.workers--
			q.jobs = nil // let the backing array go
			q.mu.Unlock()
			return
		}
		job := q.jobs[0]
		q.jobs[0] = nil
		q.jobs = q.jobs[1:]
		q.mu.Unlock()
		job()
	}
}
