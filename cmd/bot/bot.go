package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/jonboulle/clockwork"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/share-bucket/share-bucket/internal/approval"
	"github.com/share-bucket/share-bucket/internal/approval/sqlstore"
	"github.com/share-bucket/share-bucket/internal/federation"
	"github.com/share-bucket/share-bucket/internal/metrics"
	"github.com/share-bucket/share-bucket/internal/slackapp"
	"github.com/share-bucket/share-bucket/internal/worker"
)

// shutdownGrace bounds a graceful stop: in-flight work gets this long
// after SIGTERM, and the process is gone before 15 s.
const shutdownGrace = 12 * time.Second

// Main is the running bot: configuration in, wired components out.
type Main struct {
	Config  *Config
	Log     *zap.Logger
	Clock   clockwork.Clock
	Metrics *metrics.Metrics

	store  *sqlstore.Store
	socket *slackapp.Socket
}

// NewMain returns a Main with a real clock.
func NewMain(cfg *Config, log *zap.Logger) *Main {
	return &Main{Config: cfg, Log: log, Clock: clockwork.NewRealClock(), Metrics: metrics.New()}
}

// Run wires everything and serves until ctx ends or something fails for
// good. On ctx's end it stops taking new work, lets in-flight work finish
// for up to shutdownGrace, and returns nil.
func (m *Main) Run(ctx context.Context) error {
	cfg := m.Config
	store, err := openStore(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	m.store = store
	defer store.Close()

	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		return errors.New("AWS_REGION: not set; the bot needs the region of its STS endpoint (like us-east-1)")
	}
	issuer := &observedIssuer{Issuer: federation.New(cfg.AWSConfig, awsCfg), Log: m.Log, Metrics: m.Metrics}

	api := slack.New(cfg.BotToken, slack.OptionAPIURL(cfg.APIURL), slack.OptionAppLevelToken(cfg.AppToken))
	if err := m.checkSlack(ctx, api); err != nil {
		return err
	}
	web := slackapp.NewWeb(api, m.Log, m.Metrics)
	policy := cfg.Policy()
	notifier := &slackapp.Notifier{
		Web: web, Channel: cfg.ApprovalChannel, Approvers: policy.Approvers,
		Required: policy.ApprovalsRequired, MaxSession: policy.MaxSession, Log: m.Log,
	}
	svc := approval.NewService(store, policy, issuer, notifier)
	svc.Now = m.Clock.Now
	app := &slackapp.App{
		Service: svc, Web: web, Log: m.Log, Metrics: m.Metrics,
		DefaultDuration: time.Duration(cfg.DefaultDuration),
		Example:         example(cfg),
	}
	m.socket = &slackapp.Socket{Client: socketmode.New(api), App: app, Log: m.Log, Metrics: m.Metrics}
	w := &worker.Worker{Service: svc, Clock: m.Clock, Log: m.Log, Metrics: m.Metrics, Owner: owner()}
	m.Metrics.Gauge("sharebucket_grants_active", "Grants approved and not yet ended.", m.countActive)

	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("HTTP_ADDR: cannot listen on %s: %w", cfg.HTTPAddr, err)
	}
	srv := &http.Server{Handler: m.httpHandler(), ReadHeaderTimeout: 5 * time.Second}

	// workCtx outlives ctx by the grace period, so work that started
	// before a shutdown can finish.
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	stopWork := context.AfterFunc(ctx, func() {
		m.Log.Info("shutting down; finishing work in flight", zap.Duration("grace", shutdownGrace))
		time.AfterFunc(shutdownGrace, cancelWork)
	})
	defer stopWork()

	m.Log.Info("share-bucket starting",
		zap.Strings("approvers", policy.Approvers), zap.String("allowed_buckets", policy.Allowed.String()),
		zap.String("approval_channel", cfg.ApprovalChannel), zap.String("http_addr", ln.Addr().String()))

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		err := m.socket.Run(gctx, workCtx)
		_ = m.socket.Wait(workCtx)
		return err
	})
	g.Go(func() error { return w.Run(gctx, workCtx) })
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(gctx), 2*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	return g.Wait()
}

// checkSlack verifies the bot token before anything starts, and warns
// about approvers Slack does not know.
func (m *Main) checkSlack(ctx context.Context, api *slack.Client) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	auth, err := api.AuthTestContext(ctx)
	if err != nil {
		if isAuthError(err) {
			return fmt.Errorf("SLACK_BOT_TOKEN: Slack rejected it (%v)", err)
		}
		m.Log.Warn("could not verify SLACK_BOT_TOKEN with auth.test; continuing", zap.Error(err))
		return nil
	}
	m.Log.Info("slack bot identity", zap.String("team", auth.Team), zap.String("bot_user_id", auth.UserID))
	for _, id := range m.Config.Approvers {
		u, err := api.GetUserInfoContext(ctx, id)
		switch {
		case err != nil:
			m.Log.Warn("APPROVERS: cannot look up an approver; is the ID right?", zap.String("user_id", id), zap.Error(err))
		case u.Deleted:
			m.Log.Warn("APPROVERS: an approver's account is deactivated", zap.String("user_id", id))
		case u.IsBot:
			m.Log.Warn("APPROVERS: an approver is a bot", zap.String("user_id", id))
		}
	}
	return nil
}

func isAuthError(err error) bool {
	if se, ok := errors.AsType[slack.SlackErrorResponse](err); ok {
		switch se.Err {
		case "invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired":
			return true
		}
	}
	return false
}

func (m *Main) countActive() float64 {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n, err := m.store.Count(ctx, approval.StateApproved)
	if err != nil {
		return -1
	}
	return float64(n)
}

// httpHandler serves /healthz (the process is up), /readyz (the socket is
// connected and the store answers) and /metrics.
func (m *Main) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		var problems []string
		if !m.socket.Connected() {
			problems = append(problems, "slack socket not connected")
		}
		if err := m.store.Ping(ctx); err != nil {
			problems = append(problems, "database unreachable")
		}
		if len(problems) > 0 {
			http.Error(w, fmt.Sprint(problems), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("GET /metrics", m.Metrics.Handler())
	return mux
}

// example is a correct command for help texts, using an allowed bucket.
func example(cfg *Config) string {
	e := cfg.AllowedBuckets[0]
	folder := e.Prefix
	if folder == "" {
		folder = "myfolder/"
	}
	return fmt.Sprintf("/share-bucket %s/%s 2h write quarterly numbers for the auditors", e.Bucket, folder)
}

// owner names this process in event leases.
func owner() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), approval.NewID(""))
}

// observedIssuer times and logs every issue. AWS errors are logged here,
// in full, because the domain only keeps their code; they hold no secret.
type observedIssuer struct {
	approval.Issuer
	Log     *zap.Logger
	Metrics *metrics.Metrics
}

func (o *observedIssuer) Issue(ctx context.Context, g approval.Grant) (approval.Link, error) {
	start := time.Now()
	link, err := o.Issuer.Issue(ctx, g)
	o.Metrics.STSLatency.Observe(time.Since(start).Seconds())
	log := o.Log.With(zap.String("request_id", g.RequestID), zap.Duration("took", time.Since(start)))
	if err != nil {
		log.Error("issuing AWS access failed", zap.Error(err))
		return link, err
	}
	log.Info("issued AWS sign-in link", zap.Duration("session", g.Session), zap.Time("session_ends", link.SessionEnds))
	return link, nil
}
