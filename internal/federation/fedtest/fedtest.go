// Package fedtest is a fake of the AWS sign-in federation endpoint
// (https://signin.aws.amazon.com/federation) for tests, including end-to-end
// tests where the bot binary talks to it over HTTP.
//
// It behaves as AWS documents the endpoint: Action=getSigninToken takes the
// URL-encoded Session JSON {sessionId, sessionKey, sessionToken} and an
// optional SessionDuration (900..43200), and answers 200
// {"SigninToken":"…"}, or 400 with an HTML page "Invalid credentials
// parameter". Action=login takes Issuer, Destination and SigninToken and
// redirects (302) to Destination; that step is a simplification, since AWS
// does not document what it does with a bad token.
//
// The server remembers which credentials each token stands for, so a test
// can take a sign-in link the bot produced and act with exactly the
// credentials behind it (CredentialsFor).
package fedtest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Path is the path of the endpoint, as on AWS.
const Path = "/federation"

// TokenLifetime is how long AWS accepts a sign-in token: 15 minutes.
const TokenLifetime = 15 * time.Minute

// Verifier checks credentials sent to getSigninToken, for example with a
// signed S3 ListBuckets against MinIO. A non-nil error makes the server
// answer 400 "Invalid credentials parameter", as AWS does for invalid or
// expired credentials.
type Verifier func(ctx context.Context, creds aws.Credentials) error

// An Option configures a Server.
type Option func(*Server)

// WithVerifier makes getSigninToken check the credentials with v.
func WithVerifier(v Verifier) Option { return func(s *Server) { s.verify = v } }

// WithTokenLifetime sets how long a sign-in token is accepted by login
// (TokenLifetime by default).
func WithTokenLifetime(d time.Duration) Option { return func(s *Server) { s.ttl = d } }

// RejectSessionDuration makes getSigninToken refuse any SessionDuration
// with 400, as AWS does for credentials from role chaining (the bot running
// with role credentials). Without it, 900..43200 is accepted.
func RejectSessionDuration() Option { return func(s *Server) { s.rejectDuration = true } }

// Server is a running fake federation endpoint. Its methods are safe for
// concurrent use.
type Server struct {
	srv *httptest.Server

	verify         Verifier
	ttl            time.Duration
	rejectDuration bool

	mu       sync.Mutex
	tokens   map[string]token
	requests int
	failNext []int
	delay    time.Duration
}

type token struct {
	creds   aws.Credentials
	created time.Time
}

// New starts a Server and closes it when tb's test ends.
func New(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s, err := Start(opts...)
	if err != nil {
		tb.Fatalf("fedtest: %v", err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Start starts a Server on a free port of 127.0.0.1. Close stops it.
func Start(opts ...Option) (*Server, error) {
	s := &Server{ttl: TokenLifetime, tokens: make(map[string]token)}
	for _, o := range opts {
		o(s)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc(Path, s.serve)
	s.srv = &httptest.Server{Listener: l, Config: &http.Server{Handler: mux}}
	s.srv.Start()
	return s, nil
}

// Close stops the server and waits for requests in flight.
func (s *Server) Close() { s.srv.Close() }

// URL returns the endpoint's URL, http://127.0.0.1:<port>/federation: the
// value for FEDERATION_URL.
func (s *Server) URL() string { return s.srv.URL + Path }

// Requests returns how many requests the endpoint has received.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// FailNext makes the next request fail with status and an HTML error page,
// whatever it asks. Calls queue up.
func (s *Server) FailNext(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = append(s.failNext, status)
}

// SetDelay makes every following request wait d before it is answered (or
// until the client gives up).
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// CredentialsFor returns the credentials behind a login URL that this
// server issued the token for.
func (s *Server) CredentialsFor(loginURL string) (aws.Credentials, error) {
	tok, _, err := ParseLogin(loginURL)
	if err != nil {
		return aws.Credentials{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[tok]
	if !ok {
		return aws.Credentials{}, errors.New("fedtest: the login URL's sign-in token was not issued by this server")
	}
	return t.creds, nil
}

// ParseLogin checks that loginURL is a well-formed login URL (Action=login,
// a SigninToken, an absolute http(s) Destination) and returns its token and
// destination.
func ParseLogin(loginURL string) (token, destination string, err error) {
	u, err := url.Parse(loginURL)
	if err != nil {
		return "", "", errors.New("fedtest: login URL does not parse")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return "", "", errors.New("fedtest: login URL query does not parse")
	}
	if q.Get("Action") != "login" {
		return "", "", fmt.Errorf("fedtest: login URL has Action=%q; want login", q.Get("Action"))
	}
	token = q.Get("SigninToken")
	if token == "" {
		return "", "", errors.New("fedtest: login URL has no SigninToken")
	}
	destination = q.Get("Destination")
	if d, err := url.Parse(destination); err != nil || (d.Scheme != "https" && d.Scheme != "http") || d.Host == "" {
		return "", "", fmt.Errorf("fedtest: login URL's Destination %q is not an absolute URL", destination)
	}
	return token, destination, nil
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	delay := s.delay
	fail := 0
	if len(s.failNext) > 0 {
		fail, s.failNext = s.failNext[0], s.failNext[1:]
	}
	s.mu.Unlock()

	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if fail != 0 {
		errorPage(w, fail, http.StatusText(fail))
		return
	}
	if r.Method != http.MethodGet {
		errorPage(w, http.StatusMethodNotAllowed, "Method not allowed")
		return
	}
	q := r.URL.Query()
	switch q.Get("Action") {
	case "getSigninToken":
		s.getSigninToken(w, r, q)
	case "login":
		s.login(w, q)
	default:
		errorPage(w, http.StatusBadRequest, "Invalid Action parameter")
	}
}

func (s *Server) getSigninToken(w http.ResponseWriter, r *http.Request, q url.Values) {
	var sess struct {
		ID    string `json:"sessionId"`
		Key   string `json:"sessionKey"`
		Token string `json:"sessionToken"`
	}
	if err := json.Unmarshal([]byte(q.Get("Session")), &sess); err != nil || sess.ID == "" || sess.Key == "" || sess.Token == "" {
		errorPage(w, http.StatusBadRequest, "Invalid credentials parameter")
		return
	}
	if q.Has("SessionDuration") {
		n, err := strconv.Atoi(q.Get("SessionDuration"))
		if s.rejectDuration || err != nil || n < 900 || n > 43200 {
			errorPage(w, http.StatusBadRequest, "Invalid credentials parameter")
			return
		}
	}
	creds := aws.Credentials{AccessKeyID: sess.ID, SecretAccessKey: sess.Key, SessionToken: sess.Token, Source: "fedtest"}
	if s.verify != nil {
		if err := s.verify(r.Context(), creds); err != nil {
			errorPage(w, http.StatusBadRequest, "Invalid credentials parameter")
			return
		}
	}
	var b [48]byte
	if _, err := rand.Read(b[:]); err != nil {
		errorPage(w, http.StatusInternalServerError, "Internal error")
		return
	}
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	s.mu.Lock()
	s.tokens[tok] = token{creds: creds, created: time.Now()}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"SigninToken": tok})
}

func (s *Server) login(w http.ResponseWriter, q url.Values) {
	s.mu.Lock()
	t, ok := s.tokens[q.Get("SigninToken")]
	s.mu.Unlock()
	if !ok || time.Since(t.created) > s.ttl {
		errorPage(w, http.StatusBadRequest, "Invalid SigninToken parameter")
		return
	}
	dest := q.Get("Destination")
	if d, err := url.Parse(dest); err != nil || (d.Scheme != "https" && d.Scheme != "http") || d.Host == "" {
		errorPage(w, http.StatusBadRequest, "Invalid Destination parameter")
		return
	}
	w.Header().Set("Location", dest)
	w.WriteHeader(http.StatusFound)
}

// errorPage answers like AWS's sign-in endpoint does: an HTML page, not
// JSON.
func errorPage(w http.ResponseWriter, status int, message string) {
	w.Header().Set("Content-Type", "text/html;charset=utf-8")
	w.WriteHeader(status)
	m := html.EscapeString(message)
	fmt.Fprintf(w, `<html><head><title>HTTP Status %d - %s</title></head><body><h1>HTTP Status %d - %s</h1><hr size="1" noshade="noshade"><p><b>type</b> Status report</p><p><b>message</b> <u>%s</u></p><p><b>description</b> <u>The request sent by the client was syntactically incorrect.</u></p><hr size="1" noshade="noshade"></body></html>`,
		status, m, status, m, m)
}
