package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/jonboulle/clockwork"
	"github.com/slack-go/slack"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/share-bucket/share-bucket/internal/approval"
	"github.com/share-bucket/share-bucket/internal/approval/sqlstore"
	"github.com/share-bucket/share-bucket/internal/bot"
	"github.com/share-bucket/share-bucket/internal/federation"
	"github.com/share-bucket/share-bucket/internal/metrics"
	"github.com/share-bucket/share-bucket/internal/revocation"
)

// shutdownGrace bounds a graceful stop: work under way gets this long
// after SIGTERM, then is cancelled. With the HTTP server's second on top,
// the process is gone within Docker's default 10 s stop timeout.
const shutdownGrace = 8 * time.Second

// Main is the running bot: configuration in, wired components out.
type Main struct {
	Config  *Config
	Log     *zap.Logger
	Clock   clockwork.Clock
	Metrics *metrics.Metrics

	store *sqlstore.Store
	bot   *bot.Bot
}

// NewMain returns a Main with a real clock.
func NewMain(cfg *Config, log *zap.Logger) *Main {
	return &Main{Config: cfg, Log: log, Clock: clockwork.NewRealClock(), Metrics: metrics.New()}
}

// Run wires everything and serves until ctx ends or something fails for
// good. On ctx's end it stops taking new work, lets work under way finish
// for up to shutdownGrace, and returns nil.
func (m *Main) Run(ctx context.Context) error {
	cfg := m.Config
	// Listen first, so a taken HTTP_ADDR shows at once rather than after
	// the slower calls to the database, AWS and Slack.
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("HTTP_ADDR: cannot listen on %s: %w", cfg.HTTPAddr, err)
	}
	defer ln.Close()

	store, err := openStore(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	m.store = store
	defer store.Close()
	if err := takeOver(ctx, store, cfg.DatabaseURL); err != nil {
		return err
	}
	listener, err := storeListener(cfg.DatabaseURL)
	if err != nil {
		return err
	}
	var changes <-chan struct{}
	if listener != nil {
		changes = listener.C()
		listener.OnError = func(err error) {
			m.Log.Warn("listening for other replicas' writes failed; connecting again", zap.Error(err))
		}
	}

	awsCfg, err := loadAWS(ctx)
	if err != nil {
		return err
	}
	issuer := &observedIssuer{Issuer: federation.New(cfg.AWSConfig, awsCfg), Log: m.Log, Metrics: m.Metrics}
	var cutter approval.Cutter
	if cfg.RevokeSessions {
		revoker, err := federation.NewRevoker(cfg.AWSConfig, awsCfg)
		if err != nil {
			return fmt.Errorf("COLLABORATOR_ROLE_ARN: %w", err)
		}
		cutter = &observedCutter{Cutter: &revocation.Syncer{Store: store, Writer: revoker}, Log: m.Log}
	}

	api := slack.New(cfg.BotToken, slack.OptionAPIURL(cfg.APIURL), slack.OptionAppLevelToken(cfg.AppToken))
	if err := m.checkSlack(ctx, api); err != nil {
		return err
	}
	policy := cfg.Policy()
	m.bot = bot.New(bot.Config{
		Policy:          policy,
		ApproverGroups:  cfg.Approvers.Groups,
		ApprovalChannel: cfg.ApprovalChannel,
		DefaultDuration: time.Duration(cfg.DefaultDuration),
		Example:         example(cfg),
	}, bot.Parts{
		Store: store, Issuer: issuer, Cutter: cutter, Slack: api,
		Clock: m.Clock, Log: m.Log, Metrics: m.Metrics, Owner: owner(), Changes: changes,
	})
	m.Metrics.Gauge("sharebucket_grants_active", "Grants approved and not yet ended.", m.countActive)
	srv := &http.Server{Handler: m.httpHandler(), ReadHeaderTimeout: 5 * time.Second}
	if err := m.bot.Approvers.Load(ctx); err != nil {
		m.Log.Warn("APPROVERS: cannot read a user group; its members cannot approve until it can be read", zap.Error(err))
	}

	m.Log.Info("share-bucket starting",
		zap.Strings("approvers", policy.Approvers), zap.String("allowed_buckets", policy.Allowed.String()),
		zap.String("approval_channel", cfg.ApprovalChannel), zap.String("http_addr", ln.Addr().String()),
		zap.String("version", versionString()))

	g, gctx := errgroup.WithContext(ctx)
	if cutter != nil {
		// The database is the source of truth: write its deny list once at
		// start, in case the policy was changed or removed meanwhile.
		g.Go(func() error {
			sctx, cancel := context.WithTimeout(gctx, time.Minute)
			defer cancel()
			_, _ = cutter.Sync(sctx)
			return nil
		})
	}
	if listener != nil {
		g.Go(func() error { return listener.Run(gctx) })
	}
	g.Go(func() error {
		err := m.bot.Run(gctx)
		if ctx.Err() != nil {
			m.Log.Info("shutting down; finishing work under way", zap.Duration("grace", shutdownGrace))
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
		defer cancel()
		if serr := m.bot.Shutdown(sctx); serr != nil {
			m.Log.Warn("work under way cancelled at shutdown", zap.Error(serr))
		}
		return err
	})
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		hctx, cancel := context.WithTimeout(context.WithoutCancel(gctx), time.Second)
		defer cancel()
		return srv.Shutdown(hctx)
	})
	return g.Wait()
}

// loadAWS loads the SDK's configuration from its standard chain.
func loadAWS(ctx context.Context) (aws.Config, error) {
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return aws.Config{}, fmt.Errorf("AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		return aws.Config{}, errors.New("AWS_REGION: not set; the bot needs the region of its STS endpoint (like us-east-1)")
	}
	return awsCfg, nil
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
	for _, id := range m.Config.Approvers.Users {
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
		if !m.bot.Socket.Connected() {
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

// observedCutter logs every write of the deny list: what happened, never
// a secret (there is none in it).
type observedCutter struct {
	approval.Cutter
	Log *zap.Logger
}

func (o *observedCutter) Sync(ctx context.Context) (approval.CutResult, error) {
	start := time.Now()
	res, err := o.Cutter.Sync(ctx)
	log := o.Log.With(zap.Duration("took", time.Since(start)))
	switch {
	case err != nil:
		log.Warn("writing the deny list of ended grants failed", zap.Error(err))
	case !res.Cutoff.IsZero():
		log.Warn("deny list full: every session issued before the cut-off was cut", zap.Time("cutoff", res.Cutoff))
	default:
		log.Debug("deny list of ended grants written")
	}
	return res, err
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
	what := "issued AWS sign-in link"
	if g.Object() {
		what = "issued presigned S3 link"
	}
	log.Info(what, zap.String("kind", string(g.Kind)), zap.Duration("session", g.Session), zap.Time("session_ends", link.SessionEnds))
	return link, nil
}
