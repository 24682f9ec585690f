package sqlitestore_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/share-bucket/share-bucket/internal/approval"
	"github.com/share-bucket/share-bucket/internal/approval/approvaltest"
	"github.com/share-bucket/share-bucket/internal/approval/sqlitestore"
)

// The benchmarks time the store's hot paths on an in-memory database: the
// statements and the binding and scanning of a request's columns, without
// the disk.

func BenchmarkCreate(b *testing.B) {
	s := MustOpen(b, sqlitestore.Memory)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		r, ev := approvaltest.Pending(fmt.Sprintf("B%09d", i), "UREQ")
		if err := s.Create(ctx, r, []approval.Event{ev}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// benchRequest stores an approved grant with two message refs.
func benchRequest(b *testing.B, s approval.Store, id string) *approval.Request {
	b.Helper()
	r, ev := approvaltest.Approved(id, "UREQ")
	r.Messages = []approval.MessageRef{
		{Kind: approval.MessageApproval, Channel: "CAPPROVERS", TS: "1700000000.000100"},
		{Kind: approval.MessageGrant, Channel: "DREQ", TS: "1700000000.000200"},
	}
	if err := s.Create(b.Context(), r, []approval.Event{ev}); err != nil {
		b.Fatal(err)
	}
	return r
}

func BenchmarkGet(b *testing.B) {
	s := MustOpen(b, sqlitestore.Memory)
	r := benchRequest(b, s, "BGET")
	ctx := context.Background()
	for b.Loop() {
		if _, err := s.Get(ctx, r.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUpdate reads, modifies and writes a request with an audit-only
// event, as every transition does.
func BenchmarkUpdate(b *testing.B) {
	s := MustOpen(b, sqlitestore.Memory)
	r := benchRequest(b, s, "BUPDATE")
	ctx := context.Background()
	warn := func(r *approval.Request) ([]approval.Event, error) {
		r.Warned = !r.Warned
		return []approval.Event{{At: approvaltest.T0, Kind: approval.EventWarned}}, nil
	}
	for b.Loop() {
		if _, _, err := s.Update(ctx, r.ID, warn); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkList lists 1,000 requests with their message refs.
func BenchmarkList(b *testing.B) {
	const n = 1000
	s := MustOpen(b, sqlitestore.Memory)
	for i := range n {
		benchRequest(b, s, fmt.Sprintf("BLIST%05d", i))
	}
	ctx := context.Background()
	for b.Loop() {
		rs, err := s.List(ctx, approval.Filter{})
		if err != nil || len(rs) != n {
			b.Fatalf("List = %d requests, %v; want %d", len(rs), err, n)
		}
	}
}
