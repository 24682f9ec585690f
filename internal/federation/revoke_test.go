package federation

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testIDs returns n distinct request IDs in order.
func testIDs(n int) []string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	ids := make([]string, n)
	for i := range ids {
		b := []byte("AAAAAAAAAA")
		for j, v := len(b)-1, i; v > 0; j, v = j-1, v/32 {
			b[j] = alphabet[v%32]
		}
		ids[i] = string(b)
	}
	return ids
}

var testCutoff = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func TestRevokedPolicyGolden(t *testing.T) {
	tests := []struct {
		name   string
		ids    []string
		cutoff time.Time
	}{
		{"revoked-list", []string{"QX7RT2KLMB", "ABCDEFGH23", "ZZZZZZZZZZ"}, time.Time{}},
		{"revoked-one", []string{"ABCDEFGH23"}, time.Time{}},
		{"revoked-cutoff", nil, testCutoff},
		{"revoked-both", []string{"QX7RT2KLMB", "ABCDEFGH23"}, testCutoff},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RevokedPolicy(tt.ids, tt.cutoff)
			if err != nil {
				t.Fatal(err)
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, []byte(got)); err != nil || compact.String() != got {
				t.Errorf("policy is not minified JSON: %s", got)
			}
			path := filepath.Join("testdata", tt.name+".json")
			if *update {
				if err := os.WriteFile(path, []byte(got+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != strings.TrimSpace(string(want)) {
				t.Errorf("RevokedPolicy = %s\nwant (%s) %s", got, path, want)
			}
		})
	}
}

// TestRevokedPolicyShape checks the meaning of the document, not its
// bytes.
func TestRevokedPolicyShape(t *testing.T) {
	doc, err := RevokedPolicy([]string{"BBBBBBBBBB", "AAAAAAAAAA"}, time.Date(2026, 11, 27, 12, 0, 0, 900_000_000, time.FixedZone("CET", 3600)))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Version   string
		Statement []struct {
			Sid, Effect, Action, Resource string
			Condition                     map[string]map[string]any
		}
	}
	if err := json.Unmarshal([]byte(doc), &got); err != nil {
		t.Fatal(err)
	}
	if got.Version != "2012-10-17" || len(got.Statement) != 2 {
		t.Fatalf("document = %s", doc)
	}
	for _, st := range got.Statement {
		if st.Effect != "Deny" || st.Action != "*" || st.Resource != "*" || len(st.Condition) != 1 {
			t.Errorf("statement %s = %+v; want a Deny of * on * with one condition", st.Sid, st)
		}
	}
	ids := got.Statement[0].Condition["StringEquals"]["aws:PrincipalTag/request-id"]
	if fmt.Sprint(ids) != "[AAAAAAAAAA BBBBBBBBBB]" {
		t.Errorf("request IDs = %v; want them sorted", ids)
	}
	// 12:00:00.9 CET is 11:00:00.9 UTC: sessions issued in that second
	// are cut, so the bound is 11:00:01.
	if c := got.Statement[1].Condition["DateLessThan"]["aws:TokenIssueTime"]; c != "2026-11-27T11:00:01Z" {
		t.Errorf("cut-off = %v; want 2026-11-27T11:00:01Z", c)
	}
}

func TestRevokedPolicyDeterministic(t *testing.T) {
	a, err := RevokedPolicy([]string{"CCCCCCCCCC", "AAAAAAAAAA", "BBBBBBBBBB", "AAAAAAAAAA"}, testCutoff)
	if err != nil {
		t.Fatal(err)
	}
	b, err := RevokedPolicy([]string{"BBBBBBBBBB", "CCCCCCCCCC", "AAAAAAAAAA"}, testCutoff.Add(300*time.Millisecond).In(time.Local))
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Errorf("same IDs and cut-off second gave different documents:\n%s\n%s", a, b)
	}
	if strings.Count(a, "AAAAAAAAAA") != 1 {
		t.Errorf("duplicate ID kept: %s", a)
	}
}

func TestRevokedPolicyErrors(t *testing.T) {
	for _, ids := range [][]string{
		{"abcdefghij"},
		{"ABCDEFGHI1"},
		{"ABCDEFGHIJK"},
		{`AAAAAAAA"]`},
		{""},
	} {
		if doc, err := RevokedPolicy(ids, time.Time{}); err == nil {
			t.Errorf("RevokedPolicy(%q) = %s; want an error", ids, doc)
		}
	}
	if doc, err := RevokedPolicy(nil, time.Time{}); err == nil {
		t.Errorf("RevokedPolicy(nothing) = %s; want an error", doc)
	}
}

func TestCutoffValue(t *testing.T) {
	tests := []struct {
		cutoff time.Time
		want   string
	}{
		{time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC), "2026-11-27T12:00:01Z"},
		{time.Date(2026, 11, 27, 12, 0, 0, 1, time.UTC), "2026-11-27T12:00:01Z"},
		{time.Date(2026, 11, 27, 12, 0, 0, 999_999_999, time.UTC), "2026-11-27T12:00:01Z"},
		{time.Date(2026, 12, 31, 23, 59, 59, 500, time.UTC), "2027-01-01T00:00:00Z"},
		{time.Date(2026, 11, 27, 8, 0, 0, 0, time.FixedZone("EST", -5*3600)), "2026-11-27T13:00:01Z"},
	}
	for _, tt := range tests {
		if got := CutoffValue(tt.cutoff); got != tt.want {
			t.Errorf("CutoffValue(%v) = %s; want %s", tt.cutoff, got, tt.want)
		}
	}
}

func TestPolicySize(t *testing.T) {
	tests := []struct {
		doc  string
		want int
	}{
		{`{"a":"b"}`, 9},
		{"{\n\t\"a\" : \"b\"\r\n}", 9},
		{`{"a":"é"}`, 9}, // characters, not bytes
		{"", 0},
	}
	for _, tt := range tests {
		if got := PolicySize(tt.doc); got != tt.want {
			t.Errorf("PolicySize(%q) = %d; want %d", tt.doc, got, tt.want)
		}
	}
}

// TestRevokedCapacity checks the formula against rendering.
func TestRevokedCapacity(t *testing.T) {
	for _, withCutoff := range []bool{false, true} {
		var cutoff time.Time
		if withCutoff {
			cutoff = testCutoff
		}
		for _, other := range []int{0, 1, 12, 13, 500, 9000, 10000, 10100, 10240} {
			n := RevokedCapacity(other, withCutoff)
			if n > 0 {
				doc, _ := RevokedPolicy(testIDs(n), cutoff)
				if other+PolicySize(doc) > MaxRolePolicySize {
					t.Errorf("RevokedCapacity(%d, %v) = %d, but %d IDs take %d characters", other, withCutoff, n, n, PolicySize(doc))
				}
			}
			doc, _ := RevokedPolicy(testIDs(n+1), cutoff)
			if other+PolicySize(doc) <= MaxRolePolicySize {
				t.Errorf("RevokedCapacity(%d, %v) = %d, but %d IDs fit too", other, withCutoff, n, n+1)
			}
		}
	}
	t.Logf("capacity with no other inline policy: %d IDs; %d with a cut-off", RevokedCapacity(0, false), RevokedCapacity(0, true))
}

func TestPlanRevocation(t *testing.T) {
	now := time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC)
	full := RevokedCapacity(0, false)

	t.Run("Nothing", func(t *testing.T) {
		got, err := PlanRevocation(nil, time.Time{}, 500, now)
		if err != nil || !got.Deleted || got.Document != "" || got.OtherSize != 500 {
			t.Errorf("PlanRevocation(nothing) = %+v, %v; want Deleted", got, err)
		}
	})
	t.Run("List", func(t *testing.T) {
		ids := testIDs(full)
		got, err := PlanRevocation(ids, time.Time{}, 0, time.Time{})
		if err != nil || got.Fallback || got.Deleted || len(got.IDs) != full || !got.Cutoff.IsZero() {
			t.Fatalf("PlanRevocation(%d IDs) = %+v, %v; want the list", full, got, err)
		}
		if got.Size != PolicySize(got.Document) || got.Size > MaxRolePolicySize {
			t.Errorf("Size = %d for a document of %d", got.Size, PolicySize(got.Document))
		}
	})
	t.Run("ListKeepsCutoff", func(t *testing.T) {
		got, err := PlanRevocation(testIDs(3), testCutoff, 0, now)
		if err != nil || got.Fallback || !got.Cutoff.Equal(testCutoff) || len(got.IDs) != 3 || !strings.Contains(got.Document, CutoffValue(testCutoff)) {
			t.Errorf("PlanRevocation = %+v, %v; want the list beside the cut-off in force", got, err)
		}
	})
	t.Run("Fallback", func(t *testing.T) {
		got, err := PlanRevocation(testIDs(full+1), time.Time{}, 0, now)
		if err != nil || !got.Fallback || len(got.IDs) != 0 || !got.Cutoff.Equal(now) {
			t.Fatalf("PlanRevocation(%d IDs) = %+v, %v; want a fallback at %v", full+1, got, err, now)
		}
		want, _ := RevokedPolicy(nil, now)
		if got.Document != want {
			t.Errorf("fallback document = %s; want %s", got.Document, want)
		}
	})
	t.Run("FallbackCountsOthers", func(t *testing.T) {
		other := 4000
		n := RevokedCapacity(other, false)
		if got, _ := PlanRevocation(testIDs(n), time.Time{}, other, now); got.Fallback {
			t.Errorf("%d IDs beside %d characters fell back", n, other)
		}
		if got, _ := PlanRevocation(testIDs(n+1), time.Time{}, other, now); !got.Fallback {
			t.Errorf("%d IDs beside %d characters did not fall back", n+1, other)
		}
	})
	t.Run("FallbackKeepsLaterCutoff", func(t *testing.T) {
		later := now.Add(time.Hour)
		got, err := PlanRevocation(testIDs(full), later, 0, now)
		if err != nil || !got.Fallback || !got.Cutoff.Equal(later) {
			t.Errorf("PlanRevocation = %+v, %v; want the later cut-off kept", got, err)
		}
		got, err = PlanRevocation(testIDs(full), testCutoff, 0, now)
		if err != nil || !got.Fallback || !got.Cutoff.Equal(now) {
			t.Errorf("PlanRevocation = %+v, %v; want the cut-off moved to now", got, err)
		}
	})
	t.Run("NoTime", func(t *testing.T) {
		if got, err := PlanRevocation(testIDs(full+1), time.Time{}, 0, time.Time{}); err == nil {
			t.Errorf("fallback without a time = %+v; want an error", got)
		}
	})
	t.Run("NoRoom", func(t *testing.T) {
		if got, err := PlanRevocation(testIDs(1), time.Time{}, MaxRolePolicySize-50, now); err == nil {
			t.Errorf("no room = %+v; want an error", got)
		}
	})
	t.Run("BadID", func(t *testing.T) {
		if got, err := PlanRevocation([]string{"nope"}, time.Time{}, 0, now); err == nil {
			t.Errorf("bad ID = %+v; want an error", got)
		}
	})
}
