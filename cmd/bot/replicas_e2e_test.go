package main_test

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/share-bucket/share-bucket/internal/approval/pgstore/pgtest"
	"github.com/share-bucket/share-bucket/internal/fakeslack"
)

var deliveredRE = regexp.MustCompile(`"msg":"event delivered","request_id":"([A-Z2-7]+)","event":"([a-z_]+)","seq":(\d+)`)

// TestEndToEndReplicasOnPostgres runs two bots on one PostgreSQL database.
// Slack spreads envelopes over both connections; every request, decision,
// notice and warning still happens once.
func TestEndToEndReplicasOnPostgres(t *testing.T) {
	t.Parallel()
	setup(t)
	w := newWorld(t, "DATABASE_URL="+pgtest.NewSchema(t), "EXPIRY_WARNING=14m40s", "MAX_PENDING_PER_USER=6")
	b1, b2 := w.start(), w.start()
	if err := w.slack.WaitConnected(w.ctx(), 2); err != nil {
		t.Fatal(err)
	}

	var ids []string
	var msgs []fakeslack.Message
	for i := range 6 {
		id, msg := w.request(requester, fmt.Sprintf("collab-bucket/myfolder/r%d/ 15m replica test %d", i, i))
		ids, msgs = append(ids, id), append(msgs, msg)
	}
	for i, id := range ids {
		// Two approvers click every request at once.
		var wg sync.WaitGroup
		for _, c := range []struct{ user, action string }{{approver1, "approve"}, {approver2, "approve"}, {approver2, "deny"}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = w.slack.Click(w.ctx(), fakeslack.Click{User: c.user, Channel: msgs[i].Channel, MessageTS: msgs[i].TS, ActionID: c.action, Value: id})
			}()
		}
		wg.Wait()
	}
	for _, id := range ids {
		w.eventually("decision for "+id, 20*time.Second, func() bool { return w.dmCount(requester, id) > 0 })
	}
	approved := 0
	for _, id := range ids {
		if w.dmCount(requester, "Request "+id+". Need the console") == 1 {
			approved++
		}
	}
	// Every approved grant warns once, about 20 s after its approval.
	w.eventually("warnings", 60*time.Second, func() bool { return w.dmCount(requester, ":warning:") >= approved })
	time.Sleep(5 * time.Second)

	for _, id := range ids {
		// The warning names its request too.
		warnings := 0
		for _, m := range w.slack.Messages(fakeslack.DMOf(requester)) {
			if strings.Contains(m.Text, ":warning:") && strings.Contains(m.Text, id) {
				warnings++
			}
		}
		if n := w.dmCount(requester, id) - warnings; n != 1 {
			t.Errorf("request %s: %d DMs naming it besides its warning; want exactly one decision DM", id, n)
		}
		if n := len(w.slack.Messages(channel)); n != len(ids) {
			t.Errorf("%d approval messages; want %d", n, len(ids))
		}
	}
	if n := w.dmCount(requester, ":warning:"); n != approved {
		t.Errorf("%d warnings for %d grants; want one each", n, approved)
	}
	if w.fed.Requests() != approved {
		t.Errorf("%d links for %d grants; want one each", w.fed.Requests(), approved)
	}

	// Both replicas did work, and no event was delivered twice.
	seen := map[string]string{}
	for name, b := range map[string]*bot{"b1": b1, "b2": b2} {
		if !strings.Contains(b.logs.String(), `"msg":"request submitted"`) && !strings.Contains(b.logs.String(), `"msg":"decision recorded"`) {
			t.Logf("%s handled no envelope (round robin should give it some)", name)
		}
		for _, m := range deliveredRE.FindAllStringSubmatch(b.logs.String(), -1) {
			key := m[1] + "/" + m[2] + "/" + m[3]
			if other, dup := seen[key]; dup {
				t.Errorf("event %s delivered by %s and %s", key, other, name)
			}
			seen[key] = name
		}
	}
	if len(seen) == 0 {
		t.Fatal("no deliveries logged")
	}
}

// TestEndToEndReplicasRevoke: two replicas on PostgreSQL end two grants
// at once; whatever order their writes land in, the deny list ends up
// listing both, written from the database.
func TestEndToEndReplicasRevoke(t *testing.T) {
	t.Parallel()
	setup(t)
	w := newWorld(t, "DATABASE_URL="+pgtest.NewSchema(t))
	b1, b2 := w.start(), w.start()
	if err := w.slack.WaitConnected(w.ctx(), 2); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 2 {
		id, msg := w.request(requester, fmt.Sprintf("collab-bucket/myfolder/ 2h grant %d", i))
		w.click(approver1, msg, "approve")
		w.waitDM(requester, "Request "+id+". Need the console")
		ids = append(ids, id)
	}
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.command([]string{requester, approver2}[i], "revoke "+id)
		}()
	}
	wg.Wait()
	slices.Sort(ids)
	w.eventually("one list with both grants", 20*time.Second, func() bool {
		dl, ok := readDenyList(t, w.iam)
		return ok && slices.Equal(dl.ids, ids)
	})
	for name, b := range map[string]*bot{"b1": b1, "b2": b2} {
		t.Logf("%s ended %d grants by command", name, strings.Count(b.logs.String(), `"msg":"ended by command"`))
	}
	// Both replicas wrote; no write left an older list standing.
	time.Sleep(2 * time.Second)
	if dl, _ := readDenyList(t, w.iam); !slices.Equal(dl.ids, ids) {
		t.Errorf("deny list = %v; want %v", dl.ids, ids)
	}
}
