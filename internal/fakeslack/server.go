// Package fakeslack is a fake Slack for tests: Socket Mode (apps.connections.open,
// hello, pings, envelopes and acks, disconnects), the Web API methods share-bucket
// uses, and response_url endpoints, all served by one httptest server on 127.0.0.1.
//
// A test starts it with New, points slack-go at it with
// slack.OptionAPIURL(srv.APIURL()) and the tokens from BotToken and AppToken,
// drives the bot with SlashCommand, Click, SubmitView, SendEvent and
// AppHomeOpened, and inspects what the bot did with Messages, Replies,
// Ephemerals, Views, HomeView and the Wait methods. Workspace state is set
// up with WithUser, SetUser, CreateUserGroup and WithScopes. Faults
// (disconnects, dropped connections, missing pings, revoked tokens, 429s,
// errors, refusals for a while, on one method or one channel) are injected
// with Disconnect, DropConnections, StopPinging, RevokeAppToken, FailNext and
// FailAlways.
//
// The fake enforces the limits Slack documents, and only those, and answers
// with the error codes Slack documents or is seen to send; comments cite the
// source where the choice is not obvious.
//
// All methods are safe for concurrent use.
package fakeslack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Errors returned by the envelope methods.
var (
	// ErrNotConnected means no Socket Mode connection was open, so the
	// envelope was dropped, as Slack drops it.
	ErrNotConnected = errors.New("fakeslack: no socket mode connection open; envelope dropped")
	// ErrNoAck means the app did not ack the envelope within the ack timeout.
	ErrNoAck = errors.New("fakeslack: envelope not acknowledged in time")
	// ErrAckTooLarge means the ack was 20 KB or larger; Slack silently drops
	// such acks, so the envelope counts as unacknowledged.
	ErrAckTooLarge = errors.New("fakeslack: ack of 20 KB or more dropped")
	// ErrUnknownView means SubmitView or Click named a view that is not the
	// user's.
	ErrUnknownView = errors.New("fakeslack: no such open view")
	// ErrClosed means the server has been closed.
	ErrClosed = errors.New("fakeslack: server closed")
)

// Logf is a printf-style logging function, such as testing.T.Logf.
type Logf func(format string, args ...any)

// User is a workspace member known to the fake.
type User struct {
	ID       string
	Name     string // handle; defaults to the lower-cased ID without "U_"
	RealName string // defaults to Name
	TZ       string // IANA zone; defaults to "UTC"
	Email    string
	IsBot    bool // conversations.open answers cannot_dm_bot
	// Deleted marks a deactivated account: conversations.open answers
	// user_disabled, users.info shows "deleted":true, and chat.postMessage
	// to the user's ID or DM still succeeds, as in Slack.
	Deleted bool
}

// Option configures a Server.
type Option func(*config)

type config struct {
	botToken     string
	appToken     string
	teamID       string
	teamDomain   string
	appID        string
	botUserID    string
	botID        string
	users        []User
	channels     []string
	pingInterval time.Duration
	ackTimeout   time.Duration
	triggerTTL   time.Duration
	responseTTL  time.Duration
	responseUses int
	maxConns     int
	grace        time.Duration
	postEvery    time.Duration
	postBurst    int
	homeTab      bool
	eventRetries []time.Duration
	scopes       []string
	logf         Logf
}

func defaultConfig() config {
	return config{
		botToken:     "xoxb-fake-bot",
		appToken:     "xapp-1-fake-app",
		teamID:       "T_FAKE",
		teamDomain:   "fake-team",
		appID:        "A_FAKE",
		botUserID:    "U_BOT",
		botID:        "B_BOT",
		users:        []User{{ID: "U_REQ"}, {ID: "U_APP1"}, {ID: "U_APP2"}, {ID: "U_OTHER"}},
		channels:     []string{"C_APPROVALS", "C_GENERAL"},
		pingInterval: 5 * time.Second,
		ackTimeout:   3 * time.Second,
		triggerTTL:   3 * time.Second,
		responseTTL:  30 * time.Minute,
		responseUses: 5,
		maxConns:     10,
		grace:        time.Second,
		homeTab:      true,
		scopes:       defaultScopes,
	}
}

// WithBotToken sets the bot token (default "xoxb-fake-bot") that every Web API
// call must carry.
func WithBotToken(token string) Option { return func(c *config) { c.botToken = token } }

// WithAppToken sets the app-level token (default "xapp-1-fake-app") that
// apps.connections.open requires.
func WithAppToken(token string) Option { return func(c *config) { c.appToken = token } }

// WithTeamID sets the workspace ID (default "T_FAKE").
func WithTeamID(id string) Option { return func(c *config) { c.teamID = id } }

// WithAppID sets the app ID (default "A_FAKE").
func WithAppID(id string) Option { return func(c *config) { c.appID = id } }

// WithBotUserID sets the bot's user ID (default "U_BOT").
func WithBotUserID(id string) Option { return func(c *config) { c.botUserID = id } }

// WithUsers replaces the known human users with plain users with these IDs.
// The default is U_REQ, U_APP1, U_APP2 and U_OTHER.
func WithUsers(ids ...string) Option {
	return func(c *config) {
		c.users = nil
		for _, id := range ids {
			c.users = append(c.users, User{ID: id})
		}
	}
}

// WithUser adds a known user, or replaces the one with the same ID.
func WithUser(u User) Option {
	return func(c *config) {
		for i := range c.users {
			if c.users[i].ID == u.ID {
				c.users[i] = u
				return
			}
		}
		c.users = append(c.users, u)
	}
}

// WithChannels replaces the known public channels (default C_APPROVALS and
// C_GENERAL). Slash commands are invoked from the first one unless a Command
// names another.
func WithChannels(ids ...string) Option {
	return func(c *config) { c.channels = append([]string(nil), ids...) }
}

// WithPingInterval sets how often each connection gets a WebSocket PING
// (default 5s). slack-go reconnects if it sees none for 30s.
func WithPingInterval(d time.Duration) Option { return func(c *config) { c.pingInterval = d } }

// WithAckTimeout sets how long an envelope waits for its ack (default 3s).
func WithAckTimeout(d time.Duration) Option { return func(c *config) { c.ackTimeout = d } }

// WithTriggerTTL sets how long a trigger_id stays usable (default 3s).
func WithTriggerTTL(d time.Duration) Option { return func(c *config) { c.triggerTTL = d } }

// WithMaxConnections sets how many Socket Mode connections may be open at
// once (default 10, as in Slack).
func WithMaxConnections(n int) Option { return func(c *config) { c.maxConns = n } }

// WithDisconnectGrace sets how long a connection told to disconnect stays
// open before the server closes it (default 1s).
func WithDisconnectGrace(d time.Duration) Option { return func(c *config) { c.grace = d } }

// WithPostMessageLimit turns on a per-channel rate limit for
// chat.postMessage: one message per every, with bursts of up to burst
// messages. Slack allows about one message per second per channel. Calls over
// the limit get HTTP 429 with a Retry-After header.
func WithPostMessageLimit(every time.Duration, burst int) Option {
	return func(c *config) {
		c.postEvery = every
		c.postBurst = max(burst, 1)
	}
}

// WithHomeTab turns the app's Home tab on (the default) or off. With it
// off views.publish answers not_enabled, as Slack does when the app's
// settings do not enable the Home tab.
func WithHomeTab(enabled bool) Option { return func(c *config) { c.homeTab = enabled } }

// WithLogf sets the logger. New defaults to tb.Logf, Start to no logging.
func WithLogf(logf Logf) Option { return func(c *config) { c.logf = logf } }

// Server is a running fake Slack.
type Server struct {
	cfg  config
	http *httptest.Server
	done chan struct{} // closed by Close
	wg   sync.WaitGroup

	mu      sync.Mutex
	changed chan struct{} // closed and replaced whenever state changes
	closed  bool

	// Socket Mode.
	conns        []*conn // open connections, in accept order
	nextConnID   int
	rr           int
	tickets      map[string]time.Time
	connectCount int
	pending      map[string][]*pending
	lateAcks     map[string]bool
	unacked      int
	dropped      int
	protoErrs    []string
	stopPing     bool
	appTokenErr  string
	botTokenErr  string
	pingSeq      int

	// Web API.
	calls       map[string]int
	callTimes   map[string][]time.Time
	faults      map[string][]*fault
	rateLimited map[string]int
	buckets     map[string]*bucket

	// Workspace state.
	seq        int
	users      map[string]User
	channels   map[string]string // ID → name, public channels only
	dms        map[string]string // user → D channel
	dmUsers    map[string]string // D channel → user
	msgs       map[string][]*record
	order      []*record
	ephemerals map[string][]Message
	triggers   map[string]*trigger
	trigOrder  []string // trigger IDs, oldest first, for eviction
	views      map[string]*view
	viewOrder  []string
	events     map[string]*eventState // event_id → deliveries
	homes      map[string]*view       // user → published Home tab
	homeCount  map[string]int         // user → views.publish calls that succeeded
	groups     map[string]*UserGroup  // ID → user group
	scopes     []string               // the bot token's
	responses  map[string]*responseURL
}

// New starts a Server for a test or benchmark and closes it with tb.Cleanup.
// It fails the test if the server cannot start.
func New(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	opts = append([]Option{WithLogf(tb.Logf)}, opts...)
	s, err := Start(opts...)
	if err != nil {
		tb.Fatalf("fakeslack: %v", err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Start starts a Server outside a test, for example in TestMain. The caller
// must call Close.
func Start(opts ...Option) (*Server, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.logf == nil {
		cfg.logf = func(string, ...any) {}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	s := &Server{
		cfg:         cfg,
		done:        make(chan struct{}),
		changed:     make(chan struct{}),
		tickets:     make(map[string]time.Time),
		pending:     make(map[string][]*pending),
		lateAcks:    make(map[string]bool),
		calls:       make(map[string]int),
		callTimes:   make(map[string][]time.Time),
		faults:      make(map[string][]*fault),
		rateLimited: make(map[string]int),
		buckets:     make(map[string]*bucket),
		users:       make(map[string]User),
		channels:    make(map[string]string),
		dms:         make(map[string]string),
		dmUsers:     make(map[string]string),
		msgs:        make(map[string][]*record),
		ephemerals:  make(map[string][]Message),
		triggers:    make(map[string]*trigger),
		views:       make(map[string]*view),
		homes:       make(map[string]*view),
		events:      make(map[string]*eventState),
		groups:      make(map[string]*UserGroup),
		scopes:      append([]string(nil), cfg.scopes...),
		homeCount:   make(map[string]int),
		responses:   make(map[string]*responseURL),
	}
	for _, u := range cfg.users {
		s.users[u.ID] = fillUser(u)
	}
	s.users[cfg.botUserID] = User{ID: cfg.botUserID, Name: "share-bucket", RealName: "Share Bucket", TZ: "UTC", IsBot: true}
	for _, id := range cfg.channels {
		s.channels[id] = channelName(id)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/api/", s.serveAPI)
	mux.HandleFunc("/link/", s.serveLink)
	mux.HandleFunc("/response/", s.serveResponse)
	s.http = &httptest.Server{Listener: l, Config: &http.Server{Handler: mux}}
	s.http.Start()
	s.logf("fakeslack: listening on %s", s.http.URL)
	return s, nil
}

// Close closes every connection and stops the server. It is idempotent.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.done)
	conns := append([]*conn(nil), s.conns...)
	s.notify()
	s.mu.Unlock()

	for _, c := range conns {
		c.ws.Close()
	}
	s.http.CloseClientConnections()
	s.http.Close()
	s.wg.Wait()
}

// SetUser adds a workspace member or replaces the one with the same ID,
// for example to deactivate a user during a test (Deleted: true). Unset
// fields get WithUser's defaults.
func (s *Server) SetUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.ID] = fillUser(u)
	s.notify()
}

// URL returns the server's base URL, "http://127.0.0.1:PORT".
func (s *Server) URL() string { return s.http.URL }

// APIURL returns the Web API base URL, "http://127.0.0.1:PORT/api/", for
// slack.OptionAPIURL. It ends with a slash because slack-go appends method
// names to it.
func (s *Server) APIURL() string { return s.http.URL + "/api/" }

// BotToken returns the bot token the server accepts.
func (s *Server) BotToken() string { return s.cfg.botToken }

// AppToken returns the app-level token apps.connections.open accepts.
func (s *Server) AppToken() string { return s.cfg.appToken }

// TeamID returns the workspace ID.
func (s *Server) TeamID() string { return s.cfg.teamID }

// AppID returns the app ID.
func (s *Server) AppID() string { return s.cfg.appID }

// BotUserID returns the bot's user ID.
func (s *Server) BotUserID() string { return s.cfg.botUserID }

// BotID returns the bot ID (B…) stamped on the bot's messages.
func (s *Server) BotID() string { return s.cfg.botID }

func (s *Server) logf(format string, args ...any) { s.cfg.logf(format, args...) }

// notify wakes every waiter. The caller holds s.mu.
func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// wait blocks until check, called with s.mu held, reports true, or ctx ends.
func (s *Server) wait(ctx context.Context, check func() bool) error {
	for {
		s.mu.Lock()
		ok := check()
		ch, closed := s.changed, s.closed
		s.mu.Unlock()
		if ok {
			return nil
		}
		if closed {
			return ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// protoErr records a protocol error. The caller holds s.mu.
func (s *Server) protoErr(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.protoErrs = append(s.protoErrs, msg)
	s.logf("fakeslack: protocol error: %s", msg)
	s.notify()
}

// nextTS returns a new unique, increasing timestamp such as
// "1700000000.000100". The caller holds s.mu.
func (s *Server) nextTS() string {
	s.seq++
	n := s.seq * 100
	return fmt.Sprintf("%d.%06d", 1700000000+n/1000000, n%1000000)
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// newUUID returns a random UUID-shaped string, the form of Slack envelope IDs.
func newUUID() string {
	h := randHex(16)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func fillUser(u User) User {
	if u.Name == "" {
		u.Name = strings.ToLower(strings.TrimPrefix(u.ID, "U_"))
	}
	if u.RealName == "" {
		u.RealName = u.Name
	}
	if u.TZ == "" {
		u.TZ = "UTC"
	}
	return u
}

func channelName(id string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(id, "C_")), "_", "-")
}
