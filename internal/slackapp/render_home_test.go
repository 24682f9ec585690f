package slackapp

import (
	"fmt"
	"strings"
	"testing"

	"github.com/share-bucket/share-bucket/internal/approval"
)

// TestHomeViewFits: a Home tab with as many of the user's grants as a
// listing holds and a full page of requests to decide stays within
// Slack's 100 blocks, and says how many more wait and where to see them.
func TestHomeViewFits(t *testing.T) {
	var l approval.Listing
	for i := range 50 {
		r := sampleRequest()
		r.ID = fmt.Sprintf("MINE%06d", i)
		l.Mine = append(l.Mine, r)
	}
	for i := range homePageSize {
		r := sampleRequest()
		r.ID, r.Requester = fmt.Sprintf("WAIT%06d", i), "UOTHER"
		l.ToDecide = append(l.ToDecide, r)
	}
	l.Waiting = homePageSize + 7

	view := HomeView(l, true, 1, func(*approval.Request) bool { return true })
	if n := len(view.Blocks.BlockSet); n > maxHomeBlocks {
		t.Fatalf("%d blocks; Slack allows %d", n, maxHomeBlocks)
	}
	all := mustJSON(t, view)
	if !strings.Contains(all, "More than fits here") {
		t.Errorf("a cut Home tab does not say so")
	}

	l.Mine = l.Mine[:1]
	all = mustJSON(t, HomeView(l, true, 1, func(*approval.Request) bool { return true }))
	if !strings.Contains(all, "7 more wait for a decision") || !strings.Contains(all, "WAIT000019") {
		t.Errorf("Home tab with one grant and a full page to decide:\n%s", all)
	}
}
