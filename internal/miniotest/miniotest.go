// Package miniotest runs a real MinIO server on 127.0.0.1 for tests, as an
// S3 and STS peer: the bot assumes a "role" with a session policy at
// MinIO's STS, and tests check with the resulting credentials what S3 then
// allows.
//
// MinIO's STS AssumeRole ignores RoleArn, RoleSessionName, SourceIdentity
// and Tags, but enforces DurationSeconds (900 s to 365 days) and the session
// policy, intersected with the calling user's own policy. AWS forbids the
// root user to assume roles, so the bot runs as a user made by CreateUser.
//
// The MinIO binary is built once by `make minio`; see Binary.
package miniotest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/minio/madmin-go/v3"
)

// Version is the MinIO module version the tests are written against.
const Version = "v0.0.0-20260212201848-7aac2a2c5b7c"

// Root credentials of every test server. Test values only.
const (
	RootUser     = "miniotest-root"
	RootPassword = "miniotest-root-secret"
)

// region is the region MinIO reports and signs for.
const region = "us-east-1"

// startTimeout bounds how long Start waits for the server to be live.
const startTimeout = 30 * time.Second

// Binary returns the path of the MinIO binary: $MINIO_BIN if set, otherwise
// $HOME/.cache/share-bucket/minio/<Version>/minio. A missing binary is an
// error that says how to install it.
func Binary() (string, error) {
	if p := os.Getenv("MINIO_BIN"); p != "" {
		if err := executable(p); err != nil {
			return "", fmt.Errorf("MINIO_BIN=%s: %w", p, err)
		}
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("miniotest: no home directory to find MinIO in (%v); set MINIO_BIN", err)
	}
	p := filepath.Join(home, ".cache", "share-bucket", "minio", Version, "minio")
	if err := executable(p); err != nil {
		return "", fmt.Errorf("miniotest: MinIO is not installed at %s: run `make minio` (or set MINIO_BIN)", p)
	}
	return p, nil
}

func executable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", p)
	}
	return nil
}

// Server is a running MinIO server.
type Server struct {
	endpoint string // http://127.0.0.1:port
	logPath  string
	cmd      *exec.Cmd
	exited   chan struct{} // closed when the process has exited
	waitErr  error         // set before exited is closed
	admin    *madmin.AdminClient

	closeOnce sync.Once
	closeErr  error
}

// New starts a server in tb.TempDir() and stops it when tb's test ends. It
// fails tb if MinIO cannot start (or is not installed), and skips it in
// -short mode.
func New(tb testing.TB) *Server {
	tb.Helper()
	if testing.Short() {
		tb.Skip("miniotest: MinIO tests are skipped in -short mode")
	}
	s, err := Start(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("miniotest: %v", err)
		}
	})
	return s
}

// Start starts `minio server <dir>/data` on free ports of 127.0.0.1, with
// its log in <dir>/minio.log, and waits until it is ready to serve S3,
// STS and admin requests. Close stops it.
func Start(dir string) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	// A port picked free can be taken before MinIO binds it; try again then.
	for attempt := 1; ; attempt++ {
		s, err := start(bin, dir)
		if err == nil || attempt == 3 || !errors.Is(err, errAddrInUse) {
			return s, err
		}
	}
}

var errAddrInUse = errors.New("address already in use")

func start(bin, dir string) (*Server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	consoleAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	for _, d := range []string{"data", "certs"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("miniotest: %w", err)
		}
	}
	logPath := filepath.Join(dir, "minio.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("miniotest: %w", err)
	}
	defer logFile.Close() // the child has its own descriptor

	cmd := exec.Command(bin, "server", filepath.Join(dir, "data"),
		"--address", addr,
		"--console-address", consoleAddr,
		"--certs-dir", filepath.Join(dir, "certs"),
		"--quiet")
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(),
		"MINIO_ROOT_USER="+RootUser,
		"MINIO_ROOT_PASSWORD="+RootPassword,
		"MINIO_UPDATE=off",
		"MINIO_BROWSER=off",
		"MINIO_CI_CD=on", // no warnings about drives on the root disk
		"MINIO_REGION="+region,
	)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("miniotest: start %s: %w", bin, err)
	}
	s := &Server{
		endpoint: "http://" + addr,
		logPath:  logPath,
		cmd:      cmd,
		exited:   make(chan struct{}),
	}
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitReady(); err != nil {
		_ = s.Close()
		return nil, err
	}
	s.admin, err = madmin.New(addr, RootUser, RootPassword, false)
	if err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("miniotest: admin client: %w", err)
	}
	return s, nil
}

// cleanEnv is the environment without MINIO_* and AWS_* variables, which
// would change how the server behaves (MINIO_STS_DURATION, for one,
// overrides the requested session length).
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "MINIO_") || strings.HasPrefix(kv, "AWS_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("miniotest: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// waitReady polls MinIO's health checks until it is ready, the process
// exits, or startTimeout passes. /minio/health/live answers 200 as soon as
// the HTTP server runs, before the object layer and IAM are initialized
// (requests then fail with 503 XMinioServerNotInitialized);
// /minio/health/cluster answers 200 only once all of them are.
func (s *Server) waitReady() error {
	deadline := time.Now().Add(startTimeout)
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get(s.endpoint + "/minio/health/cluster")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exited:
			tail := s.logTail()
			if strings.Contains(tail, "already in use") { // "Specified port is already in use"
				return fmt.Errorf("miniotest: MinIO exited: %w", errAddrInUse)
			}
			return fmt.Errorf("miniotest: MinIO exited during start (%v); log %s:\n%s", s.waitErr, s.logPath, tail)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("miniotest: MinIO not ready after %s; log %s:\n%s", startTimeout, s.logPath, s.logTail())
		}
	}
}

// logTail returns the end of the server's log.
func (s *Server) logTail() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return ""
	}
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}

// Close kills the server and waits for it to exit. It is safe to call more
// than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		select {
		case <-s.exited:
			return
		default:
		}
		_ = killProcess(s.cmd)
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			s.closeErr = fmt.Errorf("miniotest: MinIO (pid %d) did not exit within 10s of SIGKILL", s.cmd.Process.Pid)
		}
	})
	return s.closeErr
}

// Endpoint returns the S3 and STS endpoint, http://127.0.0.1:<port>.
func (s *Server) Endpoint() string { return s.endpoint }

// Region returns the server's region, us-east-1.
func (s *Server) Region() string { return region }

// LogPath returns the path of the server's log file.
func (s *Server) LogPath() string { return s.logPath }

// Root returns the root user's credentials.
func (s *Server) Root() aws.Credentials {
	return aws.Credentials{AccessKeyID: RootUser, SecretAccessKey: RootPassword, Source: "miniotest"}
}

// S3 returns an S3 client of the server (path style, us-east-1) that signs
// with creds.
func (s *Server) S3(creds aws.Credentials) *s3.Client {
	return s3.New(s3.Options{
		Region:       region,
		BaseEndpoint: aws.String(s.endpoint),
		UsePathStyle: true,
		Credentials:  credentials.StaticCredentialsProvider{Value: creds},
	})
}

// STS returns an STS client of the server that signs with creds.
func (s *Server) STS(creds aws.Credentials) *sts.Client {
	return sts.New(sts.Options{
		Region:       region,
		BaseEndpoint: aws.String(s.endpoint),
		Credentials:  credentials.StaticCredentialsProvider{Value: creds},
	})
}

// CreateBucket creates bucket name as root.
func (s *Server) CreateBucket(ctx context.Context, name string) error {
	if _, err := s.S3(s.Root()).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		return fmt.Errorf("miniotest: create bucket %s: %w", name, err)
	}
	return nil
}

// PutObject stores body at bucket/key as root.
func (s *Server) PutObject(ctx context.Context, bucket, key string, body []byte) error {
	_, err := s.S3(s.Root()).PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket),
		Key:    aws.String(key),
		Body:   bytes.NewReader(body),
	})
	if err != nil {
		return fmt.Errorf("miniotest: put %s/%s: %w", bucket, key, err)
	}
	return nil
}

// CreateUser creates an enabled user with a canned policy (an IAM policy
// document) attached; the policy is named "<accessKey>-policy". The secret
// key has at least 8 characters.
func (s *Server) CreateUser(ctx context.Context, accessKey, secretKey, policyJSON string) error {
	name := accessKey + "-policy"
	if err := s.admin.AddCannedPolicy(ctx, name, []byte(policyJSON)); err != nil {
		return fmt.Errorf("miniotest: add policy %s: %w", name, err)
	}
	if err := s.admin.AddUser(ctx, accessKey, secretKey); err != nil {
		return fmt.Errorf("miniotest: add user %s: %w", accessKey, err)
	}
	if _, err := s.admin.AttachPolicy(ctx, madmin.PolicyAssociationReq{Policies: []string{name}, User: accessKey}); err != nil {
		return fmt.Errorf("miniotest: attach %s to %s: %w", name, accessKey, err)
	}
	return nil
}

// ReadObject returns the content of bucket/key, read as root.
func (s *Server) ReadObject(ctx context.Context, bucket, key string) ([]byte, error) {
	out, err := s.S3(s.Root()).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, fmt.Errorf("miniotest: get %s/%s: %w", bucket, key, err)
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}
