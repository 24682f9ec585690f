package miniotest_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/share-bucket/share-bucket/internal/miniotest"
)

func TestServer(t *testing.T) {
	start := time.Now()
	m := miniotest.New(t)
	t.Logf("MinIO live at %s after %s", m.Endpoint(), time.Since(start).Round(time.Millisecond))
	ctx := context.Background()

	if err := m.CreateBucket(ctx, "bucket-a"); err != nil {
		t.Fatal(err)
	}
	if err := m.CreateBucket(ctx, "bucket-b"); err != nil {
		t.Fatal(err)
	}
	if err := m.PutObject(ctx, "bucket-a", "dir/hello.txt", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	got, err := m.ReadObject(ctx, "bucket-a", "dir/hello.txt")
	if err != nil || string(got) != "hello" {
		t.Fatalf("ReadObject = %q, %v; want hello", got, err)
	}

	const policy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*"],"Resource":["arn:aws:s3:::bucket-a","arn:aws:s3:::bucket-a/*"]}]}`
	if err := m.CreateUser(ctx, "tester", "tester-secret-123", policy); err != nil {
		t.Fatal(err)
	}
	user := aws.Credentials{AccessKeyID: "tester", SecretAccessKey: "tester-secret-123"}

	t.Run("UserPolicy", func(t *testing.T) {
		c := m.S3(user)
		if _, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bucket-a"), Key: aws.String("dir/hello.txt")}); err != nil {
			t.Errorf("GetObject bucket-a as user: %v", err)
		}
		_, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bucket-b")})
		if code := errorCode(err); code != "AccessDenied" {
			t.Errorf("ListObjectsV2 bucket-b as user: %v; want AccessDenied", err)
		}
	})

	t.Run("AssumeRole", func(t *testing.T) {
		out, err := m.STS(user).AssumeRole(ctx, &sts.AssumeRoleInput{
			RoleArn:         aws.String("arn:aws:iam::123456789012:role/ignored"),
			RoleSessionName: aws.String("miniotest"),
			DurationSeconds: aws.Int32(900),
		})
		if err != nil {
			t.Fatalf("AssumeRole as user: %v", err)
		}
		if out.Credentials == nil || aws.ToString(out.Credentials.SessionToken) == "" {
			t.Fatalf("AssumeRole returned no session token")
		}
		if d := time.Until(aws.ToTime(out.Credentials.Expiration)); d < 14*time.Minute || d > 16*time.Minute {
			t.Errorf("credentials expire in %s; want about 15m", d)
		}
	})

	t.Run("Close", func(t *testing.T) {
		m2, err := miniotest.Start(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if err := m2.Close(); err != nil {
			t.Fatal(err)
		}
		if err := m2.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		c := &http.Client{Timeout: time.Second}
		if resp, err := c.Get(m2.Endpoint() + "/minio/health/live"); err == nil {
			resp.Body.Close()
			t.Fatalf("server still answers after Close")
		}
	})
}

func TestBinaryMissing(t *testing.T) {
	t.Setenv("MINIO_BIN", "")
	t.Setenv("HOME", t.TempDir())
	_, err := miniotest.Binary()
	if err == nil || !strings.Contains(err.Error(), "make minio") {
		t.Fatalf("Binary() error = %v; want one that says to run make minio", err)
	}
	if _, err := miniotest.Start(t.TempDir()); err == nil || !strings.Contains(err.Error(), "make minio") {
		t.Fatalf("Start error = %v; want one that says to run make minio", err)
	}
}

func TestBinaryEnv(t *testing.T) {
	p := t.TempDir() + "/minio"
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MINIO_BIN", p)
	got, err := miniotest.Binary()
	if err != nil || got != p {
		t.Fatalf("Binary() = %q, %v; want %q", got, err, p)
	}
	t.Setenv("MINIO_BIN", p+".missing")
	if _, err := miniotest.Binary(); err == nil {
		t.Fatalf("Binary() with a missing MINIO_BIN succeeded")
	}
}

func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
