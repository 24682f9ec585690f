package main_test

import (
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/share-bucket/share-bucket/internal/fakeslack"
)

// The end-to-end tests of one-object grants: get and put requests, their
// presigned links used as a person would (a browser's GET, curl -T), and
// what the same signature cannot do. MinIO checks the signatures and the
// session policies. That the session behind a link can do nothing else
// with its own credentials is proven in internal/federation's MinIO test,
// where the test can see them; a presigned URL does not carry the secret
// key.

// presignedURL returns the one presigned link in m: a download link, or
// the URL in the curl line of an upload.
func presignedURL(t *testing.T, m fakeslack.Message) string {
	t.Helper()
	got := m.Links()
	if len(got) != 1 {
		t.Fatalf("message carries %d links; want 1:\n%s\n%s", len(got), m.AllText(), m.Blocks)
	}
	u := got[0]
	if rest, ok := strings.CutPrefix(u, "curl -T FILE '"); ok {
		u = strings.TrimSuffix(rest, "'")
	}
	if !strings.HasPrefix(u, shared.minio.Endpoint()+"/") || !strings.Contains(u, "X-Amz-Signature=") {
		t.Fatalf("link %.80q… is not a presigned MinIO URL", u)
	}
	return u
}

// send makes one plain HTTP request, as a browser or curl would, and
// returns the status and body.
func send(t *testing.T, method, rawURL, body string) (int, string) {
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
	return resp.StatusCode, string(b)
}

// withPath is rawURL with its object path replaced by bucket/key: the
// same signature used on another object.
func withPath(t *testing.T, rawURL, bucketName, key string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path, u.RawPath = "/"+bucketName+"/"+key, ""
	return u.String()
}

// refused fails t unless the request is refused by S3 with 403.
func refused(t *testing.T, what, method, rawURL string) {
	t.Helper()
	if code, body := send(t, method, rawURL, "not allowed"); code != http.StatusForbidden {
		t.Errorf("%s: HTTP %d %.200s; want 403", what, code, body)
	}
}

// issued counts the links the bot logged as issued for request id.
func (b *bot) issued(id string) int {
	n := 0
	for _, l := range b.logLines() {
		if l["msg"] == "issued presigned S3 link" && l["request_id"] == id {
			n++
		}
	}
	return n
}

// TestEndToEndGetObject: a get link downloads exactly its object; its
// signature fits no other key, bucket or method; New link mints a fresh
// one for the requester only; and after the grant ends no link is minted.
func TestEndToEndGetObject(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	b := w.start()

	for text, want := range map[string]string{
		"get collab-bucket 1h the whole bucket":        "get takes one file",
		"get collab-bucket/myfolder/ 1h a folder":      "is a folder, and get takes one file",
		"get collab-bucket/other/secret.txt 1h secret": "is not shareable here",
		"get collab-bucket/myfolder 1h beside":         "is not shareable here",
	} {
		if got := w.command(requester, text); !strings.Contains(got, want) || !strings.Contains(got, "Write it like this: `/share-bucket get collab-bucket/myfolder/report.pdf") {
			t.Errorf("reply to %q = %q; want %q and a get example", text, got, want)
		}
	}

	id, msg := w.request(requester, "get s3://collab-bucket/myfolder/seed.txt 1h the seed file for the auditors")
	if !strings.Contains(msg.AllText(), "<@UREQ> asks for a link to download one file, `collab-bucket/myfolder/seed.txt`, for 1h") {
		t.Errorf("approval message = %q", msg.AllText())
	}
	w.click(requester, msg, "approve")
	w.waitEphemeral(requester, "cannot decide on your own request")
	w.click(approver1, msg, "approve")
	dm := w.waitDM(requester, "Your request to download one file (`collab-bucket/myfolder/seed.txt`) was approved by <@UAPP1>")
	link := presignedURL(t, dm)
	if !hasButton(dm, "new_link") || !hasButton(dm, "end_access") {
		t.Errorf("grant DM lacks New link or End access")
	}

	if code, body := send(t, http.MethodGet, link, ""); code != 200 || body != "seed" {
		t.Errorf("GET with the link = %d %q; want 200 and the object", code, body)
	}
	refused(t, "the same signature on another key", http.MethodGet, withPath(t, link, bucket, "other/secret.txt"))
	refused(t, "the same signature on a key beside it", http.MethodGet, withPath(t, link, bucket, "myfolder/other.txt"))
	refused(t, "the same signature in another bucket", http.MethodGet, withPath(t, link, otherBucket, "x.txt"))
	refused(t, "a read-only link used to upload", http.MethodPut, link)
	refused(t, "a read-only link used to delete", http.MethodDelete, link)
	refused(t, "listing the folder with the link's signature", http.MethodGet, withPath(t, link, bucket, "")+"&list-type=2&prefix=myfolder%2F")
	if got, err := shared.minio.ReadObject(w.ctx(), bucket, "myfolder/seed.txt"); err != nil || string(got) != "seed" {
		t.Errorf("myfolder/seed.txt = %q, %v; want it unchanged", got, err)
	}

	w.command(requester, "list")
	w.waitEphemeral(requester, id+" `collab-bucket/myfolder/seed.txt` download one file, active until")

	// New link: a fresh link for the requester, from the grant DM only.
	w.click(requester, dm, "new_link")
	fresh := w.waitEphemeral(requester, "Here is a new link to download `collab-bucket/myfolder/seed.txt`")
	second := presignedURL(t, fresh)
	if second == link {
		t.Errorf("New link returned the same link")
	}
	if code, body := send(t, http.MethodGet, second, ""); code != 200 || body != "seed" {
		t.Errorf("GET with the new link = %d %q; want 200", code, body)
	}
	w.click(approver1, dm, "new_link")
	w.waitEphemeral(approver1, "only the requester can get a link for this grant")
	w.click(requester, w.current(msg), "end_access")
	w.waitDM(requester, "Your access to download `collab-bucket/myfolder/seed.txt` was ended by <@UREQ>")
	w.eventually("grant DM cleared", 10*time.Second, func() bool {
		g := w.current(dm)
		return len(g.Buttons()) == 0 && len(g.Links()) == 0
	})
	w.click(requester, dm, "new_link")
	w.waitEphemeral(requester, "This request was ended by <@UREQ>.")
	if n := b.issued(id); n != 2 {
		t.Errorf("links issued = %d; want 2 (the first and one new link, none after the end)", n)
	}
	if n := w.fed.Requests(); n != 0 {
		t.Errorf("federation calls = %d; want 0 (presigned links need no sign-in token)", n)
	}
}

// TestEndToEndPutObject: the curl line of a put link, run as it is,
// uploads exactly that key; its signature fits no other key and no
// download.
func TestEndToEndPutObject(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.start()
	const key = "myfolder/in/e2e-delivery.txt"

	_, msg := w.request(requester, "put collab-bucket/"+key+" 30m the vendor's delivery")
	if !strings.Contains(msg.AllText(), "asks for a link to upload one file to `collab-bucket/"+key+"` for 30m") {
		t.Errorf("approval message = %q", msg.AllText())
	}
	w.click(approver2, msg, "approve")
	dm := w.waitDM(requester, "Your request to upload one file (`collab-bucket/"+key+"`) was approved by <@UAPP2>")
	if !strings.Contains(dm.AllText(), "It lands at `collab-bucket/"+key+"`") {
		t.Errorf("grant DM does not say where the file lands:\n%s", dm.AllText())
	}
	lines := dm.Links()
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "curl -T FILE '") {
		t.Fatalf("grant DM = %q; want the curl line", lines)
	}
	link := presignedURL(t, dm)

	// The line as the DM shows it, FILE replaced by a path, run by a shell.
	file := filepath.Join(t.TempDir(), "delivery.txt")
	if err := os.WriteFile(file, []byte("delivered by curl"), 0o600); err != nil {
		t.Fatal(err)
	}
	curl := strings.Replace(lines[0], "curl -T FILE ", "curl -sS --fail -T '"+file+"' ", 1)
	if _, err := exec.LookPath("curl"); err != nil {
		t.Logf("no curl here; uploading with net/http instead")
		if code, body := send(t, http.MethodPut, link, "delivered by curl"); code != 200 {
			t.Fatalf("PUT with the link = %d %.200s", code, body)
		}
	} else if out, err := exec.Command("sh", "-c", curl).CombinedOutput(); err != nil {
		t.Fatalf("the DM's curl line failed: %v\n%s", err, out)
	}
	if got, err := shared.minio.ReadObject(w.ctx(), bucket, key); err != nil || string(got) != "delivered by curl" {
		t.Errorf("%s = %q, %v; want the uploaded file", key, got, err)
	}

	refused(t, "the same signature on another key", http.MethodPut, withPath(t, link, bucket, "myfolder/in/other.txt"))
	refused(t, "the same signature over another object", http.MethodPut, withPath(t, link, bucket, "myfolder/seed.txt"))
	refused(t, "the same signature in another bucket", http.MethodPut, withPath(t, link, otherBucket, key))
	refused(t, "an upload link used to download", http.MethodGet, link)
	refused(t, "an upload link used to delete", http.MethodDelete, link)
	if _, err := shared.minio.ReadObject(w.ctx(), bucket, "myfolder/in/other.txt"); err == nil {
		t.Errorf("myfolder/in/other.txt exists: the put link wrote another key")
	}
	if got, err := shared.minio.ReadObject(w.ctx(), bucket, "myfolder/seed.txt"); err != nil || string(got) != "seed" {
		t.Errorf("myfolder/seed.txt = %q, %v; want it unchanged", got, err)
	}
}
