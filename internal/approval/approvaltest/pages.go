package approvaltest

import (
	"fmt"
	"testing"
	"time"

	"github.com/share-bucket/share-bucket/internal/approval"
)

// testListPages checks what listings in pages rely on: ExceptRequester
// leaves one requester out, Offset skips in List's order, and
// CountRequests counts what List would return without Limit and Offset.
func testListPages(t *testing.T, s approval.Store) {
	ctx := t.Context()
	var all []*approval.Request // newest first
	for i := range 7 {
		requester := "UA"
		if i%3 == 0 {
			requester = "UB"
		}
		r, ev := Pending(ID(fmt.Sprintf("pages-%d", i)), requester)
		r.CreatedAt = T0.Add(time.Duration(i) * time.Minute)
		if i == 5 {
			r.State = approval.StateDenied
		}
		MustCreate(t, s, r, ev)
		all = append([]*approval.Request{r}, all...)
	}
	pick := func(keep func(*approval.Request) bool) []*approval.Request {
		var out []*approval.Request
		for _, r := range all {
			if keep(r) {
				out = append(out, r)
			}
		}
		return out
	}
	pending := []approval.State{approval.StatePending}
	notB := pick(func(r *approval.Request) bool { return r.Requester != "UB" && r.State == approval.StatePending })
	allPending := pick(func(r *approval.Request) bool { return r.State == approval.StatePending })
	tests := []struct {
		f         approval.Filter
		want      []*approval.Request
		wantCount int
	}{
		{approval.Filter{ExceptRequester: "UB", States: pending}, notB, len(notB)},
		{approval.Filter{ExceptRequester: "UB", States: pending, Limit: 2}, notB[:2], len(notB)},
		{approval.Filter{ExceptRequester: "UB", States: pending, Limit: 2, Offset: 2}, notB[2:], len(notB)},
		{approval.Filter{ExceptRequester: "UB", States: pending, Limit: 2, Offset: 4}, nil, len(notB)},
		{approval.Filter{States: pending, Offset: 1}, allPending[1:], len(allPending)},
		{approval.Filter{States: pending, Limit: 3, Offset: 3}, allPending[3:6], len(allPending)},
		{approval.Filter{Requester: "UB", ExceptRequester: "UB"}, nil, 0},
		{approval.Filter{}, all, len(all)},
		{approval.Filter{Requester: "UA", Limit: 1}, all[1:2], 4},
	}
	for _, tt := range tests {
		got, err := s.List(ctx, tt.f)
		if err != nil {
			t.Errorf("List(%+v): %v", tt.f, err)
		} else if fmt.Sprint(ids(got)) != fmt.Sprint(ids(tt.want)) {
			t.Errorf("List(%+v) = %v; want %v", tt.f, ids(got), ids(tt.want))
		}
		n, err := s.CountRequests(ctx, tt.f)
		if err != nil || n != tt.wantCount {
			t.Errorf("CountRequests(%+v) = %d, %v; want %d", tt.f, n, err, tt.wantCount)
		}
	}
}
