package slackapp

import (
	"sync"
	"testing"
	"time"
)

// holdGate shuts g as if an envelope had just come and keeps it shut
// until release is called, whatever the scheduling.
func holdGate(g *gate) (release func()) {
	g.envelope(time.Now().Add(time.Hour))
	return func() {
		g.last.Store(time.Now().Add(-time.Hour).UnixNano())
		g.tick()
	}
}

// TestGate: open until an envelope comes; shut at once by one; open
// again gateQuiet after the last; a waiter gives up after its bound.
func TestGate(t *testing.T) {
	var g gate
	start := time.Now()
	g.wait(time.Second)
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Fatalf("wait on a gate no envelope closed took %v", d)
	}

	last := time.Now()
	g.envelope(last)
	if !g.shut.Load() {
		t.Fatal("gate open right after an envelope")
	}
	g.wait(time.Second)
	if d := time.Since(last); d < gateQuiet || d > 500*time.Millisecond {
		t.Errorf("gate opened %v after the envelope; want %v or a little more", d, gateQuiet)
	}

	release := holdGate(&g)
	defer release()
	start = time.Now()
	g.wait(20 * time.Millisecond)
	if d := time.Since(start); d < 20*time.Millisecond || d > time.Second {
		t.Errorf("bounded wait on a shut gate took %v; want 20 ms", d)
	}
}

// TestWorkQueue: work waits while the gate is shut (at most maxYield),
// then runs oldest first on at most max goroutines, and every piece runs;
// the goroutines end with the work.
func TestWorkQueue(t *testing.T) {
	var g gate
	q := &workQueue{gate: &g, max: 2}
	release := holdGate(&g)
	var mu sync.Mutex
	var order []int
	running, most := 0, 0
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		q.push(func() {
			defer wg.Done()
			mu.Lock()
			order = append(order, i)
			running++
			most = max(most, running)
			mu.Unlock()
			time.Sleep(time.Millisecond)
			mu.Lock()
			running--
			mu.Unlock()
		})
	}
	time.Sleep(maxYield / 2)
	mu.Lock()
	if len(order) != 0 {
		t.Errorf("work ran while the gate was shut: %v", order)
	}
	mu.Unlock()
	release()
	wg.Wait()
	if most > 2 {
		t.Errorf("%d pieces ran at once; want at most 2", most)
	}
	for i := 1; i < len(order); i++ {
		if order[i] < order[i-1]-1 {
			t.Errorf("piece %d started after %d; want oldest first (give or take the two workers)", order[i], order[i-1])
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		q.mu.Lock()
		workers, queued := q.workers, len(q.jobs)
		q.mu.Unlock()
		if workers == 0 && queued == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d workers left, %d queued; want none", workers, queued)
		}
		time.Sleep(time.Millisecond)
	}
	if len(order) != 20 {
		t.Errorf("%d pieces ran; want 20", len(order))
	}

	// A gate that stays shut delays work by maxYield at most.
	holdGate(&g)
	done := make(chan time.Time, 1)
	start := time.Now()
	q.push(func() { done <- time.Now() })
	if d := (<-done).Sub(start); d < maxYield || d > time.Second {
		t.Errorf("work behind a gate that stays shut ran after %v; want %v", d, maxYield)
	}
}
