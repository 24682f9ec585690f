package approval

import (
	"errors"
	"testing"
	"time"
)

func cutPolicy() Policy {
	p := testPolicy()
	p.RevokeSessions = true
	return p
}

// approved returns a 2h grant approved at t0 whose first session (1h) was
// minted at t0.
func approved(t *testing.T, p Policy) *Request {
	t.Helper()
	r := pending()
	if _, err := r.decide(p, "UAPP1", Approve, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := r.recordSession(p, "", t0.Add(time.Hour), t0); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRevokeCutsLiveSessions(t *testing.T) {
	p := cutPolicy()
	r := approved(t, p)
	at := t0.Add(10 * time.Minute)
	evs, err := r.revoke(p, "UREQ", at)
	if err != nil {
		t.Fatal(err)
	}
	if got := kinds(evs); len(got) != 2 || got[0] != EventRevoked || got[1] != EventCutSessions {
		t.Fatalf("events = %v; want [revoked cut_sessions]", got)
	}
	if want := t0.Add(time.Hour + CutMargin); !r.CutUntil.Equal(want) || r.Cut != CutPending {
		t.Errorf("CutUntil %v, Cut %q; want %v, pending", r.CutUntil, r.Cut, want)
	}
	if !r.NextDue().Equal(r.CutUntil) {
		t.Errorf("NextDue = %v; want CutUntil %v", r.NextDue(), r.CutUntil)
	}
	// The grant leaves the deny list once its last session has ended.
	if evs := r.tick(p, r.CutUntil.Add(-time.Millisecond)); len(evs) != 0 {
		t.Fatalf("tick before CutUntil = %v", kinds(evs))
	}
	if evs := r.tick(p, r.CutUntil); len(evs) != 1 || evs[0].Kind != EventCutLifted || !r.CutUntil.IsZero() || !r.NextDue().IsZero() {
		t.Fatalf("tick at CutUntil = %v, CutUntil %v; want cut_lifted and nothing more due", kinds(evs), r.CutUntil)
	}
	if r.Cut != CutPending {
		t.Errorf("Cut = %q after the lift; the outcome of cutting stays", r.Cut)
	}
}

func TestRevokeCutsNothing(t *testing.T) {
	tests := []struct {
		name  string
		setup func(*Request, *Policy)
	}{
		{"turned off", func(r *Request, p *Policy) { p.RevokeSessions = false }},
		{"sessions over", func(r *Request, p *Policy) { r.SessionsEnd = t0.Add(5 * time.Minute) }},
		{"pending request", func(r *Request, p *Policy) { *r = *pending() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := cutPolicy()
			r := approved(t, p)
			tt.setup(r, &p)
			evs, err := r.revoke(p, "UREQ", t0.Add(10*time.Minute))
			if err != nil || len(evs) != 1 || evs[0].Kind != EventRevoked || !r.CutUntil.IsZero() || r.Cut != CutNone {
				t.Errorf("revoke = %v, %v, CutUntil %v, Cut %q; want only revoked", kinds(evs), err, r.CutUntil, r.Cut)
			}
		})
	}
}

// TestRevokeUnknownSessions: a grant with no recorded session (approved
// before sessions were recorded, or with its first link still being
// minted) is listed for the longest a session may run.
func TestRevokeUnknownSessions(t *testing.T) {
	p := cutPolicy()
	r := pending()
	if _, err := r.decide(p, "UAPP1", Approve, t0); err != nil {
		t.Fatal(err)
	}
	at := t0.Add(time.Minute)
	if _, err := r.revoke(p, "UAPP2", at); err != nil {
		t.Fatal(err)
	}
	if want := at.Add(p.MaxSession + CutMargin); !r.CutUntil.Equal(want) {
		t.Errorf("CutUntil = %v; want %v", r.CutUntil, want)
	}
}

// TestExpiryCutsOverhang: a short grant's first session may outlast it by
// up to FirstLinkGrace; at expiry that session is cut like a revoked one.
func TestExpiryCutsOverhang(t *testing.T) {
	p := cutPolicy()
	r := pending()
	r.Duration = MinSession
	if _, err := r.decide(p, "UAPP1", Approve, t0); err != nil {
		t.Fatal(err)
	}
	ends := t0.Add(MinSession + 40*time.Second) // minted 40 s after approval
	if _, err := r.recordSession(p, "", ends, t0.Add(40*time.Second)); err != nil {
		t.Fatal(err)
	}
	evs := r.tick(p, r.EndsAt)
	if got := kinds(evs); len(got) != 2 || got[0] != EventExpired || got[1] != EventCutSessions {
		t.Fatalf("expiry = %v; want [expired cut_sessions]", got)
	}
	if want := ends.Add(CutMargin); !r.CutUntil.Equal(want) {
		t.Errorf("CutUntil = %v; want %v", r.CutUntil, want)
	}

	// A grant whose sessions all end with it needs no cut.
	r = approved(t, p)
	r.SessionsEnd = r.EndsAt
	if evs := r.tick(p, r.EndsAt); len(evs) != 1 || !r.CutUntil.IsZero() {
		t.Errorf("expiry without overhang = %v, CutUntil %v", kinds(evs), r.CutUntil)
	}
}

// TestLinkMintedWhileEnding: a link minted while its grant ended is
// thrown away, and its session is cut with the grant's.
func TestLinkMintedWhileEnding(t *testing.T) {
	p := cutPolicy()
	r := approved(t, p)
	if _, err := r.revoke(p, "UREQ", t0.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	r.Cut = CutDone
	before := r.CutUntil
	later := t0.Add(10*time.Minute + 30*time.Second)
	evs, err := r.recordSession(p, "UREQ", later.Add(time.Hour), later)
	if !errors.Is(err, ErrEnded) {
		t.Fatalf("recordSession after revoke: %v; want ErrEnded", err)
	}
	if got := kinds(evs); len(got) != 2 || got[0] != EventLinkDiscarded || got[1] != EventCutSessions || evs[0].Notify {
		t.Fatalf("events = %v; want an audit-only link_discarded and cut_sessions", got)
	}
	if want := later.Add(time.Hour + CutMargin); !r.CutUntil.Equal(want) || !r.CutUntil.After(before) || r.Cut != CutPending {
		t.Errorf("CutUntil %v (was %v), Cut %q; want %v, pending again", r.CutUntil, before, r.Cut, want)
	}

	// On an active grant the link is recorded, audit-only.
	r = approved(t, p)
	evs, err = r.recordSession(p, "UREQ", t0.Add(90*time.Minute), t0.Add(30*time.Minute))
	if err != nil || len(evs) != 1 || evs[0].Kind != EventLinkMinted || evs[0].Notify || !r.SessionsEnd.Equal(t0.Add(90*time.Minute)) {
		t.Errorf("recordSession = %v, %v, SessionsEnd %v", kinds(evs), err, r.SessionsEnd)
	}
}

func TestCutResult(t *testing.T) {
	p := cutPolicy()
	r := approved(t, p)
	if _, err := r.revoke(p, "UREQ", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	failed := r.Clone()
	if evs := r.cutResult(nil, t0); len(evs) != 1 || evs[0].Kind != EventSessionsCut || r.Cut != CutDone {
		t.Fatalf("cutResult(nil) = %v, %q", kinds(evs), r.Cut)
	}
	if evs := r.cutResult(&CutError{Code: "AccessDenied"}, t0); len(evs) != 0 || r.Cut != CutDone {
		t.Errorf("a late failure overwrote a done cut: %v, %q", kinds(evs), r.Cut)
	}
	evs := failed.cutResult(&CutError{Code: "AccessDenied", Reason: "the bot may not"}, t0)
	if len(evs) != 1 || evs[0].Kind != EventCutFailed || failed.Cut != CutFailed || failed.CutError != "AccessDenied: the bot may not" {
		t.Errorf("cutResult(err) = %v, %q, %q", kinds(evs), failed.Cut, failed.CutError)
	}
}
