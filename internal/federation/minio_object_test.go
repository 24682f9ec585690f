package federation_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/share-bucket/share-bucket/internal/approval"
)

// issueObject gets a presigned link for one object and the credentials of
// its session.
func (b *bed) issueObject(t *testing.T, kind approval.Kind, bucket, key string) (string, *s3.Client) {
	t.Helper()
	start := time.Now()
	link, creds, err := b.broker.IssueWithCredentials(context.Background(), approval.Grant{
		RequestID: "ABCDEFGHIJ",
		Requester: "U0123ABCD",
		Approver:  "U0999ZZZZ",
		Scope:     approval.Scope{Kind: kind, Bucket: bucket, Key: key, Access: kind.Access()},
		Session:   15 * time.Minute,
	})
	if err != nil {
		t.Fatalf("Issue(%s %s/%s): %v", kind, bucket, key, err)
	}
	if d := link.SessionEnds.Sub(start); d < 14*time.Minute || d > 16*time.Minute {
		t.Errorf("SessionEnds is %s after the request; want about 15m", d)
	}
	if creds.AccessKeyID == botUser || creds.SessionToken == "" {
		t.Fatalf("the link was signed with the bot's own credentials, not a session's")
	}
	u, err := url.Parse(link.URL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	// Signed with the session, for exactly as long as it lasts, and with
	// nothing a browser or curl would not send.
	if !strings.HasPrefix(q.Get("X-Amz-Credential"), creds.AccessKeyID+"/") || q.Get("X-Amz-Security-Token") != creds.SessionToken {
		t.Errorf("link is not signed with the session's credentials")
	}
	expires, _ := strconv.Atoi(q.Get("X-Amz-Expires"))
	if left := time.Until(link.SessionEnds); expires < int(left.Seconds())-5 || expires > int(left.Seconds())+1 {
		t.Errorf("X-Amz-Expires = %s; want the session's remaining %s", q.Get("X-Amz-Expires"), left.Round(time.Second))
	}
	if got := q.Get("X-Amz-SignedHeaders"); got != "host" {
		t.Errorf("X-Amz-SignedHeaders = %q; want host only", got)
	}
	for name := range q {
		if strings.Contains(strings.ToLower(name), "checksum") {
			t.Errorf("link carries %s; want no checksum parameter", name)
		}
	}
	if want := "/" + bucket + "/" + key; u.Path != want {
		t.Errorf("link path = %q; want %q (path-style on MinIO's IP address)", u.Path, want)
	}
	return link.URL, b.minio.S3(creds)
}

// fetch sends method to rawURL with body and returns the status and the
// S3 error code or body.
func fetch(t *testing.T, method, rawURL, body string) (int, string) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, rawURL, r)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	text := string(b)
	if i := strings.Index(text, "<Code>"); i >= 0 {
		text = text[i+len("<Code>"):]
		text = text[:strings.Index(text, "<")]
	}
	return resp.StatusCode, text
}

// otherKey is rawURL with its path pointing at key: the same signature on
// another object.
func otherKey(t *testing.T, rawURL, bucket, key string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + bucket + "/" + key
	u.RawPath = ""
	return u.String()
}

// TestMinIOObjects proves presigned links against MinIO: a get link
// downloads exactly its object and a put link uploads exactly its key; the
// signature fits no other key or method; and the session behind a link
// may do nothing else (its credentials are seen through a test seam).
func TestMinIOObjects(t *testing.T) {
	b := newBed(t)
	ctx := context.Background()

	t.Run("Get", func(t *testing.T) {
		link, c := b.issueObject(t, approval.KindGet, "collab-bucket", "myfolder/seed.txt")
		if code, body := fetch(t, http.MethodGet, link, ""); code != 200 || body != "content of myfolder/seed.txt" {
			t.Errorf("GET with the link = %d %q; want 200 and the object", code, body)
		}
		for _, tt := range []struct{ what, method, url string }{
			{"GET another key", http.MethodGet, otherKey(t, link, "collab-bucket", "other/secret.txt")},
			{"GET a key beside it", http.MethodGet, otherKey(t, link, "collab-bucket", "myfolder/new.txt")},
			{"GET in another bucket", http.MethodGet, otherKey(t, link, "other-bucket", "myfolder/seed.txt")},
			{"PUT with the get link", http.MethodPut, link},
			{"DELETE with the get link", http.MethodDelete, link},
			{"list the folder with the link's query", http.MethodGet, otherKey(t, link, "collab-bucket", "") + "&list-type=2&prefix=myfolder%2F"},
		} {
			if code, s3code := fetch(t, tt.method, tt.url, "evil"); code != http.StatusForbidden {
				t.Errorf("%s: %d %s; want 403", tt.what, code, s3code)
			}
		}
		allowed(t, "get myfolder/seed.txt", get(ctx, c, "collab-bucket", "myfolder/seed.txt"))
		denied(t, "get other/secret.txt", get(ctx, c, "collab-bucket", "other/secret.txt"))
		denied(t, "get root.txt", get(ctx, c, "collab-bucket", "root.txt"))
		denied(t, "get other-bucket myfolder/seed.txt", get(ctx, c, "other-bucket", "myfolder/seed.txt"))
		denied(t, "list myfolder/", list(ctx, c, "collab-bucket", "myfolder/"))
		denied(t, "list without prefix", list(ctx, c, "collab-bucket", ""))
		denied(t, "put myfolder/seed.txt", put(ctx, c, "collab-bucket", "myfolder/seed.txt"))
		denied(t, "put myfolder/new.txt", put(ctx, c, "collab-bucket", "myfolder/new.txt"))
		denied(t, "delete myfolder/seed.txt", del(ctx, c, "collab-bucket", "myfolder/seed.txt"))
		denied(t, "get location of collab-bucket", location(ctx, c, "collab-bucket"))
		if got, err := b.minio.ReadObject(ctx, "collab-bucket", "myfolder/seed.txt"); err != nil || string(got) != "content of myfolder/seed.txt" {
			t.Errorf("myfolder/seed.txt changed: %q, %v", got, err)
		}
	})

	t.Run("Put", func(t *testing.T) {
		link, c := b.issueObject(t, approval.KindPut, "collab-bucket", "myfolder/in/upload.txt")
		if code, s3code := fetch(t, http.MethodPut, link, "uploaded by the vendor"); code != 200 {
			t.Fatalf("PUT with the link = %d %s; want 200", code, s3code)
		}
		if got, err := b.minio.ReadObject(ctx, "collab-bucket", "myfolder/in/upload.txt"); err != nil || string(got) != "uploaded by the vendor" {
			t.Errorf("uploaded object = %q, %v; want what was sent", got, err)
		}
		for _, tt := range []struct{ what, method, url string }{
			{"PUT another key", http.MethodPut, otherKey(t, link, "collab-bucket", "myfolder/in/other.txt")},
			{"PUT over another object", http.MethodPut, otherKey(t, link, "collab-bucket", "myfolder/seed.txt")},
			{"PUT in another bucket", http.MethodPut, otherKey(t, link, "other-bucket", "myfolder/in/upload.txt")},
			{"GET with the put link", http.MethodGet, link},
			{"DELETE with the put link", http.MethodDelete, link},
		} {
			if code, s3code := fetch(t, tt.method, tt.url, "evil"); code != http.StatusForbidden {
				t.Errorf("%s: %d %s; want 403", tt.what, code, s3code)
			}
		}
		allowed(t, "put myfolder/in/upload.txt", put(ctx, c, "collab-bucket", "myfolder/in/upload.txt"))
		denied(t, "get myfolder/in/upload.txt", get(ctx, c, "collab-bucket", "myfolder/in/upload.txt"))
		denied(t, "get myfolder/seed.txt", get(ctx, c, "collab-bucket", "myfolder/seed.txt"))
		denied(t, "put myfolder/in/other.txt", put(ctx, c, "collab-bucket", "myfolder/in/other.txt"))
		denied(t, "put myfolder/seed.txt", put(ctx, c, "collab-bucket", "myfolder/seed.txt"))
		denied(t, "delete myfolder/in/upload.txt", del(ctx, c, "collab-bucket", "myfolder/in/upload.txt"))
		denied(t, "list myfolder/", list(ctx, c, "collab-bucket", "myfolder/"))
		denied(t, "put other-bucket myfolder/in/upload.txt", put(ctx, c, "other-bucket", "myfolder/in/upload.txt"))
		for _, key := range []string{"myfolder/seed.txt", "other/secret.txt"} {
			if got, err := b.minio.ReadObject(ctx, "collab-bucket", key); err != nil || string(got) != "content of "+key {
				t.Errorf("%s changed: %q, %v", key, got, err)
			}
		}
		if _, err := b.minio.ReadObject(ctx, "collab-bucket", "myfolder/in/other.txt"); err == nil {
			t.Errorf("myfolder/in/other.txt exists; nothing but the granted key may be written")
		}
	})

}
