// Package revocation keeps the cloud's deny list in step with the store:
// the grants that ended while their AWS sessions could still run, whose
// sessions IAM must refuse until they have all ended. The store is the
// source of truth, so replicas converge on the same list; writes are
// serialised by the store's lock, so an older list never lands after a
// newer one.
package revocation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/share-bucket/share-bucket/internal/approval"
	"github.com/share-bucket/share-bucket/internal/approval/sqlstore"
	"github.com/share-bucket/share-bucket/internal/federation"
)

// Store is the store's side of the deny list; *sqlstore.Store is one.
type Store interface {
	LockDenyList(ctx context.Context) (unlock func(), err error)
	DenyList(ctx context.Context, now time.Time) (sqlstore.DenyList, error)
	SaveDenyList(ctx context.Context, applied string, cutoff, cutoffUntil, now time.Time, covered []sqlstore.Revocation) error
}

// Writer writes the deny list to the cloud; *federation.Revoker is one.
type Writer interface {
	Apply(ctx context.Context, ids []string, cutoff time.Time) (federation.Revocation, error)
}

// Syncer writes the store's deny list to the cloud. It implements
// approval.Cutter and is safe for concurrent use.
type Syncer struct {
	Store  Store
	Writer Writer
	// Now returns the current time; tests replace it.
	Now func() time.Time

	// wrote is set once this process has written the list: until then a
	// digest recorded by an earlier process is no proof that the cloud
	// still holds the list (a stack update may have removed it).
	wrote atomic.Bool
}

var _ approval.Cutter = (*Syncer)(nil)

func (s *Syncer) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

// Sync writes the deny list the store holds now, unless this process
// already wrote exactly that list. While a role-wide cut-off stands
// (CutoffUntil not passed), grants it covers are left out of the list and
// the cut-off is written again with it; once it has passed, the cut-off is
// dropped. When the list does not fit, the writer falls back to a new
// cut-off at the cloud's time: Sync records it, marks the grants it
// stands for as covered, and returns it so that people can be told.
//
// Errors are *approval.CutError, except when ctx ends.
func (s *Syncer) Sync(ctx context.Context) (approval.CutResult, error) {
	unlock, err := s.Store.LockDenyList(ctx)
	if err != nil {
		return approval.CutResult{}, &approval.CutError{Code: "StoreError", Reason: "the deny list could not be read from the database", Temporary: true, Err: err}
	}
	defer unlock()
	now := s.now()
	dl, err := s.Store.DenyList(ctx, now)
	if err != nil {
		return approval.CutResult{}, &approval.CutError{Code: "StoreError", Reason: "the deny list could not be read from the database", Temporary: true, Err: err}
	}
	var cutoff, cutoffUntil time.Time
	if !dl.Cutoff.IsZero() && now.Before(dl.CutoffUntil) {
		cutoff, cutoffUntil = dl.Cutoff, dl.CutoffUntil
	}
	var ids []string
	var listed []sqlstore.Revocation
	for _, e := range dl.Entries {
		if e.Covered && !cutoff.IsZero() {
			continue
		}
		ids = append(ids, e.RequestID)
		listed = append(listed, e)
	}
	applied := digest(ids, cutoff)
	if applied == dl.Applied && s.wrote.Load() {
		return approval.CutResult{}, nil
	}
	rev, err := s.Writer.Apply(ctx, ids, cutoff)
	if err != nil {
		return approval.CutResult{}, cutError(ctx, err)
	}
	var res approval.CutResult
	var covered []sqlstore.Revocation
	if rev.Fallback {
		// Every listed grant's sessions were issued before the new
		// cut-off: it stands for them until the last of them has ended.
		res.Cutoff, cutoff, covered = rev.Cutoff, rev.Cutoff, listed
		cutoffUntil = later(cutoffUntil, rev.Cutoff.Add(approval.CutMargin))
		for _, e := range listed {
			cutoffUntil = later(cutoffUntil, e.Until)
		}
		applied = digest(nil, cutoff)
	}
	if rev.Deleted {
		cutoffUntil = time.Time{}
	}
	if err := s.Store.SaveDenyList(ctx, applied, cutoff, cutoffUntil, now, covered); err != nil {
		// The cloud holds the list; only the record of it is missing, so
		// the next sync writes it again.
		return res, &approval.CutError{Code: "StoreError", Reason: "the deny list was written but could not be recorded", Temporary: true, Err: err}
	}
	s.wrote.Store(true)
	return res, nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// digest names a list and cut-off, to tell whether the cloud already
// holds them.
func digest(ids []string, cutoff time.Time) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n", strings.Join(ids, ","))
	if !cutoff.IsZero() {
		fmt.Fprintf(h, "cutoff %s\n", federation.CutoffValue(cutoff))
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// cutError turns the writer's error into an *approval.CutError, keeping
// the cloud's code and whether retrying can help.
func cutError(ctx context.Context, err error) error {
	if ie, ok := errors.AsType[*federation.IAMError](err); ok {
		return &approval.CutError{Code: ie.Code, Reason: ie.Reason, Temporary: ie.Temporary, Err: err}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("revocation: %w", err)
	}
	return &approval.CutError{Code: "CutError", Reason: "the deny list could not be written", Err: err}
}
