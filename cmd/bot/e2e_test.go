package main_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/share-bucket/share-bucket/internal/fakeslack"
	"github.com/share-bucket/share-bucket/internal/federation/fedtest"
	"github.com/share-bucket/share-bucket/internal/iamtest"
	"github.com/share-bucket/share-bucket/internal/miniotest"
	"github.com/share-bucket/share-bucket/internal/testenv"
)

// The end-to-end tests build the real bot binary and run it against the
// fake Slack (Socket Mode and Web API), a real MinIO as STS and S3, and a
// fake of the AWS federation endpoint that remembers which credentials
// each sign-in token stands for, so a test can act as the person who
// clicked the link.

const (
	requester = "UREQ"
	approver1 = "UAPP1"
	approver2 = "UAPP2"
	stranger  = "UOTHER"
	channel   = "CAPPROVALS"

	bucket            = "collab-bucket"
	otherBucket       = "other-bucket"
	unreachableBucket = "unreachable-bucket"
	botUser           = "slackbot"
	botSecret         = "slackbot-secret-key-456"
	roleName          = "share-bucket-collaborator"
	roleARN           = "arn:aws:iam::123456789012:role/" + roleName
)

var (
	shared struct {
		once  sync.Once
		err   error
		dir   string
		bin   string
		minio *miniotest.Server
	}
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.minio != nil {
		_ = shared.minio.Close()
	}
	if shared.dir != "" {
		_ = os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// setup builds the bot and starts MinIO once for all tests.
func setup(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test; skipped with -short")
	}
	shared.once.Do(func() { shared.err = doSetup() })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
}

func doSetup() error {
	dir, err := os.MkdirTemp("", "share-bucket-e2e-")
	if err != nil {
		return err
	}
	shared.dir = dir
	shared.bin = filepath.Join(dir, "bot")
	args := []string{"build", "-o", shared.bin}
	if testenv.Race {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build bot: %v\n%s", err, out)
	}
	srv, err := miniotest.Start(filepath.Join(dir, "minio"))
	if err != nil {
		return err
	}
	shared.minio = srv
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// unreachableBucket exists, but the bot's own rights do not cover it.
	for _, b := range []string{bucket, otherBucket, unreachableBucket} {
		if err := srv.CreateBucket(ctx, b); err != nil {
			return err
		}
	}
	for key, body := range map[string]string{"myfolder/seed.txt": "seed", "other/secret.txt": "secret", "root.txt": "root"} {
		if err := srv.PutObject(ctx, bucket, key, []byte(body)); err != nil {
			return err
		}
	}
	if err := srv.PutObject(ctx, otherBucket, "x.txt", []byte("x")); err != nil {
		return err
	}
	// The bot runs as a plain (non-root) user whose own rights cover both
	// buckets: every restriction a grant shows comes from its session
	// policy, as with an AWS role whose policy is wider than one grant.
	parent := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*"],"Resource":["arn:aws:s3:::%[1]s","arn:aws:s3:::%[1]s/*","arn:aws:s3:::%[2]s","arn:aws:s3:::%[2]s/*"]}]}`, bucket, otherBucket)
	return srv.CreateUser(ctx, botUser, botSecret, parent)
}

// world is one test's Slack, federation endpoint, IAM and bot
// configuration.
type world struct {
	t     *testing.T
	slack *fakeslack.Server
	fed   *fedtest.Server
	iam   *iamtest.Server
	env   map[string]string
	dir   string

	mu   sync.Mutex
	bots []*bot // every bot process started, for their logs
}

func newWorld(t *testing.T, env ...string) *world {
	t.Helper()
	return newWorldWith(t, nil, env...)
}

// newWorldWith is newWorld with more options for the fake Slack.
func newWorldWith(t *testing.T, slackOpts []fakeslack.Option, env ...string) *world {
	t.Helper()
	setup(t)
	opts := append([]fakeslack.Option{
		fakeslack.WithUsers(requester, approver1, approver2, stranger),
		fakeslack.WithChannels(channel),
		fakeslack.WithPingInterval(2 * time.Second),
		fakeslack.WithLogf(func(string, ...any) {}),
	}, slackOpts...)
	w := &world{
		t:     t,
		slack: fakeslack.New(t, opts...),
		fed:   fedtest.New(t),
		iam:   iamtest.New(t),
		dir:   t.TempDir(),
	}
	w.iam.CreateRole("/", roleName)
	w.env = map[string]string{
		"PATH":                        os.Getenv("PATH"),
		"HOME":                        w.dir,
		"SLACK_APP_TOKEN":             w.slack.AppToken(),
		"SLACK_BOT_TOKEN":             w.slack.BotToken(),
		"SLACK_API_URL":               w.slack.APIURL(),
		"APPROVERS":                   approver1 + "," + approver2 + "," + requester,
		"APPROVAL_CHANNEL":            channel,
		"ALLOWED_BUCKETS":             bucket + "/myfolder/," + otherBucket,
		"COLLABORATOR_ROLE_ARN":       roleARN,
		"FEDERATION_URL":              w.fed.URL(),
		"DATABASE_URL":                "sqlite:" + filepath.Join(w.dir, "share-bucket.db"),
		"HTTP_ADDR":                   "127.0.0.1:0",
		"LOG_LEVEL":                   "debug",
		"AWS_REGION":                  shared.minio.Region(),
		"AWS_ACCESS_KEY_ID":           botUser,
		"AWS_SECRET_ACCESS_KEY":       botSecret,
		"AWS_ENDPOINT_URL_STS":        shared.minio.Endpoint(),
		"AWS_ENDPOINT_URL_S3":         shared.minio.Endpoint(),
		"AWS_ENDPOINT_URL_IAM":        w.iam.URL(),
		"AWS_CONFIG_FILE":             filepath.Join(w.dir, "no-aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(w.dir, "no-aws-credentials"),
		"AWS_EC2_METADATA_DISABLED":   "true",
		"GORACE":                      "halt_on_error=1",
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		w.env[k] = v
	}
	return w
}

// bot is a running bot process.
type bot struct {
	t    *testing.T
	cmd  *exec.Cmd
	logs *logBuffer
	done chan struct{}
	code int
}

// logBuffer collects the bot's output; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// start runs the bot binary with args and waits until it is connected.
func (w *world) start(args ...string) *bot {
	w.t.Helper()
	b := w.run(args...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		if strings.Contains(b.logs.String(), `"msg":"connected to slack"`) {
			return b
		}
		select {
		case <-b.done:
			w.t.Fatalf("bot exited with %d before connecting:\n%s", b.code, b.logs)
		case <-ctx.Done():
			w.t.Fatalf("bot did not connect:\n%s", b.logs)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// run starts the bot binary with args without waiting for anything.
func (w *world) run(args ...string) *bot {
	w.t.Helper()
	b := &bot{t: w.t, logs: &logBuffer{}, done: make(chan struct{})}
	w.mu.Lock()
	w.bots = append(w.bots, b)
	w.mu.Unlock()
	b.cmd = exec.Command(shared.bin, args...)
	for k, v := range w.env {
		b.cmd.Env = append(b.cmd.Env, k+"="+v)
	}
	b.cmd.Stdout, b.cmd.Stderr = b.logs, b.logs
	if err := b.cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	go func() {
		err := b.cmd.Wait()
		b.code = b.cmd.ProcessState.ExitCode()
		if err != nil && b.code == 0 {
			b.code = -1
		}
		close(b.done)
	}()
	w.t.Cleanup(func() {
		_ = b.cmd.Process.Kill()
		<-b.done
		if w.t.Failed() || os.Getenv("E2E_LOGS") != "" {
			w.t.Logf("bot output:\n%s", b.logs)
		}
		if strings.Contains(b.logs.String(), "WARNING: DATA RACE") {
			w.t.Errorf("data race in the bot:\n%s", b.logs)
		}
	})
	return b
}

// wait waits for the bot to exit and returns its exit code.
func (b *bot) wait(timeout time.Duration) int {
	b.t.Helper()
	select {
	case <-b.done:
		return b.code
	case <-time.After(timeout):
		b.t.Fatalf("bot still running after %v", timeout)
		return 0
	}
}

// stop sends sig and returns the exit code and how long the exit took.
func (b *bot) stop(sig syscall.Signal) (int, time.Duration) {
	b.t.Helper()
	start := time.Now()
	if err := b.cmd.Process.Signal(sig); err != nil {
		b.t.Fatal(err)
	}
	code := b.wait(30 * time.Second)
	return code, time.Since(start)
}

var httpAddrRE = regexp.MustCompile(`"http_addr":"([^"]+)"`)

// httpAddr is where the bot serves /healthz, /readyz and /metrics.
func (b *bot) httpAddr() string {
	m := httpAddrRE.FindStringSubmatch(b.logs.String())
	if m == nil {
		b.t.Fatalf("bot did not log its http_addr:\n%s", b.logs)
	}
	return m[1]
}

func (b *bot) get(path string) (int, string) {
	b.t.Helper()
	resp, err := http.Get("http://" + b.httpAddr() + path)
	if err != nil {
		b.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// logLines decodes the bot's JSON log lines.
func (b *bot) logLines() []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(b.logs.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

func (w *world) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	w.t.Cleanup(cancel)
	return ctx
}

// command runs a slash command and returns the text of the ack.
func (w *world) command(user, text string) string {
	w.t.Helper()
	ack, err := w.slack.SlashCommand(w.ctx(), user, text)
	if err != nil {
		w.t.Fatalf("slash command %q: %v", text, err)
	}
	return ack.Text()
}

var requestIDRE = regexp.MustCompile(`Request ([A-Z2-7]{10}) `)

// request asks for access and returns the request ID and the approval
// message once it is posted and its ref stored.
func (w *world) request(user, text string) (string, fakeslack.Message) {
	w.t.Helper()
	ack := w.command(user, text)
	m := requestIDRE.FindStringSubmatch(ack)
	if m == nil {
		w.t.Fatalf("ack %q does not confirm a request", ack)
	}
	id := m[1]
	msg := w.waitMessage(func(m fakeslack.Message) bool { return m.Channel == channel && strings.Contains(m.Text, id) })
	w.waitRemembered(msg)
	return id, msg
}

// waitRemembered waits until a bot has stored its ref to msg, which it does
// a few milliseconds after Slack accepts the message and logs at debug: a
// person cannot click on a message that fast, and neither should a test.
func (w *world) waitRemembered(msg fakeslack.Message) {
	w.t.Helper()
	line := `"msg":"message remembered"`
	ts := `"ts":"` + msg.TS + `"`
	w.eventually("message "+msg.TS+" remembered", 10*time.Second, func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, b := range w.bots {
			for _, l := range strings.Split(b.logs.String(), "\n") {
				if strings.Contains(l, line) && strings.Contains(l, ts) {
					return true
				}
			}
		}
		return false
	})
}

func (w *world) waitMessage(match func(fakeslack.Message) bool) fakeslack.Message {
	w.t.Helper()
	m, err := w.slack.WaitMessage(w.ctx(), match)
	if err != nil {
		w.t.Fatalf("expected message never came: %v", err)
	}
	return m
}

func (w *world) waitDM(user, contains string) fakeslack.Message {
	w.t.Helper()
	return w.waitMessage(func(m fakeslack.Message) bool {
		return m.Channel == fakeslack.DMOf(user) && strings.Contains(m.AllText(), contains)
	})
}

func (w *world) dmCount(user, contains string) int {
	n := 0
	for _, m := range w.slack.Messages(fakeslack.DMOf(user)) {
		if strings.Contains(m.AllText(), contains) {
			n++
		}
	}
	return n
}

func (w *world) waitEphemeral(user, contains string) fakeslack.Message {
	w.t.Helper()
	m, err := w.slack.WaitEphemeral(w.ctx(), user, func(m fakeslack.Message) bool { return strings.Contains(m.AllText(), contains) })
	if err != nil {
		w.t.Fatalf("no ephemeral for %s containing %q: %v", user, contains, err)
	}
	return m
}

// click clicks a button of msg as the user saw it, once the bot knows the
// message.
func (w *world) click(user string, msg fakeslack.Message, action string) {
	w.t.Helper()
	if msg.BotID != "" {
		w.waitRemembered(msg)
	}
	if _, err := w.slack.Click(w.ctx(), msg.ClickOn(user, action)); err != nil {
		w.t.Fatalf("click %s: %v", action, err)
	}
}

func (w *world) current(msg fakeslack.Message) fakeslack.Message {
	m, _ := w.slack.MessageAt(msg.Channel, msg.TS)
	return m
}

func (w *world) eventually(what string, timeout time.Duration, cond func() bool) {
	w.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			w.t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// loginURL extracts the sign-in link from a message: its one rich text
// link, which must be a sign-in link and appear nowhere else in it.
func loginURL(t *testing.T, m fakeslack.Message) string {
	t.Helper()
	got := m.Links()
	if len(got) != 1 || !strings.Contains(got[0], "Action=login") || !strings.Contains(got[0], "SigninToken=") {
		t.Fatalf("message carries links %.200q; want one sign-in link:\n%s", got, m.AllText())
	}
	if strings.Contains(m.AllText(), got[0]) {
		t.Errorf("the sign-in link also shows outside its rich text")
	}
	return got[0]
}

// credentials returns the credentials behind a sign-in link.
func (w *world) credentials(link string) aws.Credentials {
	w.t.Helper()
	creds, err := w.fed.CredentialsFor(link)
	if err != nil {
		w.t.Fatalf("credentials for link: %v", err)
	}
	return creds
}

func hasButton(m fakeslack.Message, action string) bool {
	for _, b := range m.Buttons() {
		if b.ActionID == action {
			return true
		}
	}
	return false
}

// auditKinds runs bot audit for request id, as an operator would, and
// returns its events as "event:actor", space-separated.
func auditKinds(t *testing.T, w *world, id string) string {
	t.Helper()
	cmd := exec.Command(shared.bin, "audit", "-request", id)
	cmd.Env = []string{"DATABASE_URL=" + w.env["DATABASE_URL"]}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bot audit: %v\n%s", err, out)
	}
	var kinds []string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		var line struct {
			Event     string `json:"event"`
			RequestID string `json:"request_id"`
			Actor     string `json:"actor"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil || line.RequestID != id {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		kinds = append(kinds, line.Event+":"+line.Actor)
	}
	return strings.Join(kinds, " ")
}
