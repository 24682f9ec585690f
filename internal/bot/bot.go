// Package bot assembles share-bucket from its parts: the approval service,
// the Slack side (socket, handlers, notifier) and the worker. cmd/bot
// wires it to Slack, AWS and a database; the in-process tests wire it to
// fakes through the same function, so what they test is what runs.
package bot

import (
	"context"
	"errors"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/share-bucket/share-bucket/internal/approval"
	"github.com/share-bucket/share-bucket/internal/metrics"
	"github.com/share-bucket/share-bucket/internal/slackapp"
	"github.com/share-bucket/share-bucket/internal/worker"
)

// Config is what the bot's behaviour depends on.
type Config struct {
	Policy approval.Policy
	// ApprovalChannel receives approval requests; empty means DM every
	// approver.
	ApprovalChannel string
	// ApproverGroups are user groups whose members approve, beside
	// Policy.Approvers.
	ApproverGroups []string
	// DefaultDuration is a request's duration when it names none.
	DefaultDuration time.Duration
	// Example is a correct command shown in help and refusals.
	Example string
	// PostInterval paces chat.postMessage per channel; zero means one
	// second, as Slack asks.
	PostInterval time.Duration
}

// Parts are what the bot talks to.
type Parts struct {
	Store  approval.Store
	Issuer approval.Issuer
	// Cutter cuts the sessions of grants ended early; nil when
	// Config.Policy.RevokeSessions is off.
	Cutter approval.Cutter
	// Slack is the Web API client; Socket Mode runs on a copy of it.
	Slack         *slack.Client
	SocketOptions []socketmode.Option
	// Clock drives the service and the worker; nil means the real one.
	Clock   clockwork.Clock
	Log     *zap.Logger
	Metrics *metrics.Metrics
	// Owner names this process in event leases.
	Owner string
	// Changes, if set, fires when another replica wrote work to the
	// shared store (see worker.Worker.Changes).
	Changes <-chan struct{}
}

// Bot is share-bucket, wired.
type Bot struct {
	Approvers *slackapp.Approvers
	Service   *approval.Service
	Web       *slackapp.Web
	Notifier  *slackapp.Notifier
	App       *slackapp.App
	Socket    *slackapp.Socket
	Worker    *worker.Worker
}

// New wires the parts.
func New(cfg Config, p Parts) *Bot {
	if p.Clock == nil {
		p.Clock = clockwork.NewRealClock()
	}
	if p.Log == nil {
		p.Log = zap.NewNop()
	}
	if p.Metrics == nil {
		p.Metrics = metrics.New()
	}
	web := slackapp.NewWeb(p.Slack, p.Log, p.Metrics)
	web.PostInterval = cfg.PostInterval
	approvers := &slackapp.Approvers{Users: cfg.Policy.Approvers, Groups: cfg.ApproverGroups, API: p.Slack, Log: p.Log}
	notifier := &slackapp.Notifier{
		Web: web, Channel: cfg.ApprovalChannel, Approvers: approvers,
		Required: cfg.Policy.ApprovalsRequired, MaxSession: cfg.Policy.MaxSession, Policy: cfg.Policy,
		RevokeSessions: cfg.Policy.RevokeSessions, Log: p.Log,
	}
	svc := approval.NewService(p.Store, cfg.Policy, p.Issuer, notifier)
	svc.Cutter = p.Cutter
	svc.Approvers = approvers
	svc.Now = p.Clock.Now
	app := &slackapp.App{
		Service: svc, Web: web, Approvers: approvers, Log: p.Log, Metrics: p.Metrics,
		DefaultDuration: cfg.DefaultDuration, Example: cfg.Example,
	}
	app.Homes = &slackapp.Homes{App: app}
	notifier.Homes = app.Homes
	w := &worker.Worker{
		Service: svc, Outbox: p.Store, Clock: p.Clock, Log: p.Log, Metrics: p.Metrics, Owner: p.Owner, Changes: p.Changes,
	}
	// Slack waits (pacing, 429s) go through the worker, so a delivery
	// waiting its channel's turn lets other channels' notices go.
	web.Wait = w.Wait
	return &Bot{
		Approvers: approvers,
		Service:   svc,
		Web:       web,
		Notifier:  notifier,
		App:       app,
		Socket:    &slackapp.Socket{Client: socketmode.New(p.Slack, p.SocketOptions...), App: app, Log: p.Log, Metrics: p.Metrics},
		Worker:    w,
	}
}

// Run serves Slack and works through due changes and notices until ctx
// ends (returning nil) or something fails for good, such as a revoked
// token. It does not wait for work under way; Shutdown does.
func (b *Bot) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { b.Approvers.Run(gctx); return nil })
	g.Go(func() error { b.App.Homes.Run(gctx); return nil })
	g.Go(func() error { return b.Socket.Run(gctx) })
	g.Go(func() error { return b.Worker.Run(gctx) })
	return g.Wait()
}

// Shutdown lets the work under way (after-ack work, deliveries) finish,
// cancelling what is left when ctx ends. Call it after Run has returned.
func (b *Bot) Shutdown(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- b.Socket.Shutdown(ctx) }()
	werr := b.Worker.Shutdown(ctx)
	return errors.Join(<-errc, werr)
}
