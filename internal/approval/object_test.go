package approval_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/share-bucket/share-bucket/internal/approval"
)

// createStore is a Store that only records Create and lists nothing; the
// rest is not reached by Check and Submit.
type createStore struct {
	approval.Store
	created []*approval.Request
	events  [][]approval.Event
}

func (s *createStore) Create(_ context.Context, r *approval.Request, evs []approval.Event) error {
	s.created = append(s.created, r.Clone())
	s.events = append(s.events, evs)
	return nil
}

// List finds no pending requests to compare a draft with.
func (s *createStore) List(context.Context, approval.Filter) ([]*approval.Request, error) {
	return nil, nil
}

func objectService(t *testing.T) (*approval.Service, *createStore) {
	t.Helper()
	var allowed approval.AllowList
	for _, s := range []string{"collab-bucket/myfolder/", "whole-bucket"} {
		e, err := approval.ParseAllowEntry(s)
		if err != nil {
			t.Fatal(err)
		}
		allowed = append(allowed, e)
	}
	store := &createStore{}
	svc := approval.NewService(store, approval.Policy{
		Approvers: []string{"UAPP1", "UAPP2"}, ApprovalsRequired: 1, Allowed: allowed,
		MaxDuration: 12 * time.Hour, ApprovalTimeout: 8 * time.Hour, MaxSession: time.Hour,
	}, nil, nil)
	svc.Now = func() time.Time { return time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC) }
	return svc, store
}

func objectDraft(kind approval.Kind, bucket, key string) approval.Draft {
	return approval.Draft{
		ID: approval.NewID("object/" + key), Requester: "UREQ",
		Scope:    approval.Scope{Kind: kind, Bucket: bucket, Key: key, Access: kind.Access()},
		Duration: time.Hour, Reason: "the auditors want it",
	}
}

// TestCheckObject: one-object drafts pass the same policy as folders,
// with the key inside an allowed folder.
func TestCheckObject(t *testing.T) {
	svc, _ := objectService(t)
	tests := []struct {
		name  string
		draft approval.Draft
		field string // "" for allowed
	}{
		{"Get", objectDraft(approval.KindGet, "collab-bucket", "myfolder/report.pdf"), ""},
		{"PutDeep", objectDraft(approval.KindPut, "collab-bucket", "myfolder/in/drop.zip"), ""},
		{"WholeBucket", objectDraft(approval.KindGet, "whole-bucket", "root.txt"), ""},
		{"LongestKey", objectDraft(approval.KindGet, "whole-bucket", strings.Repeat("k", approval.MaxKeyLen)), ""},
		{"BesideTheFolder", objectDraft(approval.KindGet, "collab-bucket", "root.txt"), "bucket"},
		{"FolderNameAsKey", objectDraft(approval.KindGet, "collab-bucket", "myfolder"), "bucket"},
		{"Lookalike", objectDraft(approval.KindPut, "collab-bucket", "myfolderx/drop.zip"), "bucket"},
		{"OtherBucket", objectDraft(approval.KindGet, "other-bucket", "myfolder/report.pdf"), "bucket"},
		{"FolderShaped", objectDraft(approval.KindGet, "collab-bucket", "myfolder/sub/"), "key"},
		{"NoKey", objectDraft(approval.KindPut, "collab-bucket", ""), "key"},
		{"Escape", objectDraft(approval.KindGet, "collab-bucket", "myfolder/../secret.txt"), "key"},
		{"KeyTooLong", objectDraft(approval.KindGet, "whole-bucket", strings.Repeat("k", approval.MaxKeyLen+1)), "key"},
	}
	wrongAccess := objectDraft(approval.KindGet, "collab-bucket", "myfolder/report.pdf")
	wrongAccess.Access = approval.AccessWrite
	tests = append(tests, struct {
		name  string
		draft approval.Draft
		field string
	}{"GetWithWrite", wrongAccess, "access"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := svc.Check(tt.draft)
			var ie *approval.InvalidError
			switch {
			case tt.field == "" && err != nil:
				t.Errorf("Check = %v; want nil", err)
			case tt.field != "" && (!errors.As(err, &ie) || ie.Field != tt.field):
				t.Errorf("Check = %v; want an invalid %s", err, tt.field)
			}
		})
	}
}

// TestSubmitKinds: an object request is stored with its kind and key and
// says so in the audit log; a folder draft without a kind is stored as a
// folder request.
func TestSubmitKinds(t *testing.T) {
	svc, store := objectService(t)
	ctx := context.Background()
	put := objectDraft(approval.KindPut, "collab-bucket", "myfolder/drop.zip")
	if _, err := svc.Submit(ctx, put); err != nil {
		t.Fatal(err)
	}
	folder := approval.Draft{
		ID: approval.NewID("folder"), Requester: "UREQ",
		Scope:    approval.Scope{Bucket: "collab-bucket", Prefix: "myfolder/", Access: approval.AccessRead},
		Duration: time.Hour, Reason: "look around",
	}
	if _, err := svc.Submit(ctx, folder); err != nil {
		t.Fatal(err)
	}
	if len(store.created) != 2 {
		t.Fatalf("created %d requests; want 2", len(store.created))
	}
	got := store.created[0]
	if got.Kind != approval.KindPut || got.Key != "myfolder/drop.zip" || got.Prefix != "" || got.Access != approval.AccessWrite {
		t.Errorf("stored put request scope = %+v; want put of myfolder/drop.zip with write access", got.Scope)
	}
	detail := store.events[0][0].Detail
	if detail["kind"] != "put" || detail["scope"] != "collab-bucket/myfolder/drop.zip" || detail["access"] != "write" {
		t.Errorf("requested event detail = %v; want kind put, scope collab-bucket/myfolder/drop.zip, access write", detail)
	}
	if got := store.created[1]; got.Kind != approval.KindFolder || got.Prefix != "myfolder/" {
		t.Errorf("stored folder request scope = %+v; want kind folder", got.Scope)
	}
	if _, ok := store.events[1][0].Detail["kind"]; ok {
		t.Errorf("folder request's event detail = %v; want no kind, as before", store.events[1][0].Detail)
	}
}

// TestCheckObjectLongKeyMessage: a refusal quotes a long key shortened.
func TestCheckObjectLongKeyMessage(t *testing.T) {
	svc, _ := objectService(t)
	err := svc.Check(objectDraft(approval.KindGet, "collab-bucket", "elsewhere/"+strings.Repeat("k", 1000)))
	var ie *approval.InvalidError
	if !errors.As(err, &ie) || len(ie.Reason) > 200 || !strings.Contains(ie.Reason, "collab-bucket/elsewhere/kkk") || !strings.Contains(ie.Reason, "… is not shareable here") {
		t.Errorf("Check = %v; want a short refusal that begins with the key", err)
	}
}
