package main_test

import (
	"context"
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/share-bucket/share-bucket/internal/fakeslack"
)

// s3Check is one S3 call made with a grant's credentials.
type s3Check struct {
	name string
	call func(context.Context, *s3.Client) error
}

func put(b, key string) s3Check {
	return s3Check{"PutObject " + b + "/" + key, func(ctx context.Context, c *s3.Client) error {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String(key), Body: strings.NewReader("e2e")})
		return err
	}}
}

func get(b, key string) s3Check {
	return s3Check{"GetObject " + b + "/" + key, func(ctx context.Context, c *s3.Client) error {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String(key)})
		if err == nil {
			_, err = io.ReadAll(out.Body)
			out.Body.Close()
		}
		return err
	}}
}

func list(b, prefix string) s3Check {
	return s3Check{"ListObjectsV2 " + b + "?prefix=" + prefix, func(ctx context.Context, c *s3.Client) error {
		in := &s3.ListObjectsV2Input{Bucket: aws.String(b)}
		if prefix != "" {
			in.Prefix = aws.String(prefix)
		}
		_, err := c.ListObjectsV2(ctx, in)
		return err
	}}
}

func del(b, key string) s3Check {
	return s3Check{"DeleteObject " + b + "/" + key, func(ctx context.Context, c *s3.Client) error {
		_, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b), Key: aws.String(key)})
		return err
	}}
}

// expectS3 runs checks with creds: allowed ones must succeed, denied ones
// must fail with AccessDenied.
func expectS3(t *testing.T, creds aws.Credentials, allowed, denied []s3Check) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := shared.minio.S3(creds)
	for _, ch := range allowed {
		if err := ch.call(ctx, c); err != nil {
			t.Errorf("%s with the grant: %v; want success", ch.name, err)
		}
	}
	for _, ch := range denied {
		err := ch.call(ctx, c)
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" {
			t.Errorf("%s with the grant: %v; want AccessDenied", ch.name, err)
		}
	}
}

// TestEndToEndWriteGrant is the core flow: a request, refusals for
// people who may not decide, an approval, and a sign-in link whose
// credentials reach exactly the requested folder.
func TestEndToEndWriteGrant(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.start()

	id, msg := w.request(requester, "s3://collab-bucket/myfolder/ 2h write quarterly numbers for the auditors")
	for _, want := range []string{"<@UREQ>", "`collab-bucket/myfolder/`", "write", "2h", "quarterly numbers for the auditors", id} {
		if !strings.Contains(msg.AllText(), want) {
			t.Errorf("approval message lacks %q:\n%s", want, msg.AllText())
		}
	}
	if !hasButton(msg, "approve") || !hasButton(msg, "deny") {
		t.Fatalf("approval message has no Approve/Deny buttons")
	}

	// Refused: the requester (an approver too) and a non-approver.
	w.click(requester, msg, "approve")
	w.waitEphemeral(requester, "cannot decide on your own request")
	w.click(stranger, msg, "approve")
	w.waitEphemeral(stranger, "only approvers can approve or deny")
	if w.fed.Requests() != 0 || !hasButton(w.current(msg), "approve") {
		t.Fatalf("a refused click changed the request")
	}

	w.click(approver1, msg, "approve")
	dm := w.waitDM(requester, "was approved by <@UAPP1>")
	w.eventually("approval message updated", 10*time.Second, func() bool {
		m := w.current(msg)
		return strings.Contains(m.AllText(), "Approved by <@UAPP1>") && !hasButton(m, "approve")
	})
	link := loginURL(t, dm)
	if _, dest, err := parseLogin(link); err != nil || !strings.Contains(dest, "/s3/buckets/collab-bucket") || !strings.Contains(dest, "prefix=myfolder%2F") {
		t.Errorf("sign-in destination = %q, %v; want the S3 console at collab-bucket/myfolder/", dest, err)
	}
	creds := w.credentials(link)
	expectS3(t, creds,
		[]s3Check{put(bucket, "myfolder/e2e.txt"), get(bucket, "myfolder/e2e.txt"), get(bucket, "myfolder/seed.txt"),
			list(bucket, "myfolder/"), del(bucket, "myfolder/e2e.txt")},
		[]s3Check{put(bucket, "other/e2e.txt"), get(bucket, "other/secret.txt"), get(bucket, "root.txt"),
			put(bucket, "myfolderX/e2e.txt"), list(bucket, ""), list(bucket, "other/"),
			get(otherBucket, "x.txt"), put(otherBucket, "e2e.txt"), list(otherBucket, "")})

	// A second approver's late click changes nothing and says so.
	w.click(approver2, msg, "approve")
	w.waitEphemeral(approver2, "already approved by <@UAPP1>")
	if got := w.fed.Requests(); got != 1 {
		t.Errorf("federation calls = %d; want 1 (one grant, one link)", got)
	}
}

func parseLogin(link string) (token, destination string, err error) {
	u, err := url.Parse(link)
	if err != nil {
		return "", "", err
	}
	return u.Query().Get("SigninToken"), u.Query().Get("Destination"), nil
}

func TestEndToEndReadGrant(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.start()
	_, msg := w.request(requester, "collab-bucket/myfolder/sub 30m read look at the reports")
	w.click(approver2, msg, "approve")
	dm := w.waitDM(requester, "was approved by <@UAPP2>")
	if !strings.Contains(dm.AllText(), "read access to `collab-bucket/myfolder/sub/`") {
		t.Errorf("grant DM = %q; want read access to the sub folder", dm.AllText())
	}
	ctx := context.Background()
	if err := shared.minio.PutObject(ctx, bucket, "myfolder/sub/report.txt", []byte("r")); err != nil {
		t.Fatal(err)
	}
	expectS3(t, w.credentials(loginURL(t, dm)),
		[]s3Check{get(bucket, "myfolder/sub/report.txt"), list(bucket, "myfolder/sub/")},
		[]s3Check{put(bucket, "myfolder/sub/new.txt"), del(bucket, "myfolder/sub/report.txt"), get(bucket, "myfolder/seed.txt"),
			list(bucket, "myfolder/")})
}

func TestEndToEndDeny(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.start()
	id, msg := w.request(requester, "collab-bucket/myfolder/ 1h need it")
	w.click(approver1, msg, "deny")
	w.waitDM(requester, "Your request "+id+" for `collab-bucket/myfolder/` was denied by <@UAPP1>")
	w.eventually("message shows the denial", 10*time.Second, func() bool {
		m := w.current(msg)
		return strings.Contains(m.AllText(), "Denied by <@UAPP1>") && len(m.Buttons()) == 0
	})
	if n := w.fed.Requests(); n != 0 {
		t.Errorf("federation calls after a denial = %d; want 0", n)
	}
}

func TestEndToEndInvalidInput(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.start()
	for text, want := range map[string]string{
		"collab-bucket/myfolder/ 2h write": "a reason is required",
		"collab-bucket/../secret 1h x":     "not an allowed folder",
		"collab-bucket/other/ 1h x":        "not shareable here",
		"collab-bucket/myfolder/ 10m x":    "the shortest grant is 15m",
		"192.168.1.1/x 1h x":               "not a valid bucket name",
	} {
		got := w.command(requester, text)
		if !strings.Contains(got, want) || !strings.Contains(got, "Write it like this: `/share-bucket collab-bucket/myfolder/ 2h write") {
			t.Errorf("reply to %q = %q; want %q and an example", text, got, want)
		}
	}
	if got := w.command(requester, "help"); !strings.Contains(got, "/share-bucket list") {
		t.Errorf("help = %q", got)
	}
	if n := w.slack.Calls("chat.postMessage"); n != 0 {
		t.Errorf("messages posted for invalid input: %d; want 0", n)
	}
	if n := w.fed.Requests(); n != 0 {
		t.Errorf("federation calls for invalid input: %d; want 0", n)
	}
}

// TestEndToEndAWSFailures: STS and federation refusals end the request as
// failed, say so in plain words to the requester and approvers, and the
// bot keeps serving.
func TestEndToEndAWSFailures(t *testing.T) {
	t.Parallel()
	t.Run("sts", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, "AWS_SECRET_ACCESS_KEY=not-the-secret")
		w.start()
		id, msg := w.request(requester, "collab-bucket/myfolder/ 1h need it")
		w.click(approver1, msg, "approve")
		dm := w.waitDM(requester, "AWS refused to issue access")
		if !strings.Contains(dm.AllText(), id) || !strings.Contains(dm.AllText(), "AccessDenied") {
			t.Errorf("failure DM = %q; want the request ID and the AWS error code", dm.AllText())
		}
		w.eventually("message shows the failure", 10*time.Second, func() bool {
			return strings.Contains(w.current(msg).AllText(), "AWS refused to issue access: AccessDenied")
		})
		if strings.Contains(dm.AllText(), "not-the-secret") || strings.Contains(dm.AllText(), botUser) {
			t.Errorf("failure DM leaks credentials: %q", dm.AllText())
		}
		if got := w.command(requester, "help"); got == "" {
			t.Errorf("bot stopped answering after the failure")
		}
	})
	t.Run("federation", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		w.start()
		w.fed.FailNext(400)
		_, msg := w.request(requester, "collab-bucket/myfolder/ 1h need it")
		w.click(approver1, msg, "approve")
		dm := w.waitDM(requester, "AWS refused to issue access")
		if !strings.Contains(dm.AllText(), "FederationError") {
			t.Errorf("failure DM = %q; want FederationError", dm.AllText())
		}
		// The next request works.
		_, msg = w.request(requester, "collab-bucket/myfolder/ 1h again")
		w.click(approver1, msg, "approve")
		w.waitDM(requester, "Open the AWS console")
	})
}

var _ = fakeslack.Message{}
