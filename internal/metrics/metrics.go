// Package metrics defines the Prometheus metrics share-bucket exports on
// /metrics. Each Metrics has its own registry, so tests can build as many
// as they like.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds every collector. A nil *Metrics is not allowed; use New.
type Metrics struct {
	Registry *prometheus.Registry

	Requests         *prometheus.CounterVec // by outcome: submitted, refused, duplicate, already_pending, too_many_pending, error
	Decisions        *prometheus.CounterVec // by decision: approved, denied, refused
	Notices          *prometheus.CounterVec // by event kind delivered
	SlackErrors      *prometheus.CounterVec // by method and error code
	SlackRateLimited *prometheus.CounterVec // by method
	STSLatency       prometheus.Histogram   // seconds per issue (AssumeRole + sign-in token)
	AckLatency       prometheus.Histogram   // seconds from envelope to ack
	Reconnects       prometheus.Counter
	LinksMinted      prometheus.Counter
}

// New creates the collectors and registers them with a fresh registry,
// along with the Go runtime and process collectors.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sharebucket_requests_total", Help: "Access requests by outcome (submitted, refused, duplicate, already_pending, too_many_pending, error).",
		}, []string{"outcome"}),
		Decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sharebucket_decisions_total", Help: "Approver clicks by result (approved, denied, approval_recorded, refused).",
		}, []string{"decision"}),
		Notices: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sharebucket_notices_total", Help: "Events delivered to Slack, by event kind.",
		}, []string{"kind"}),
		SlackErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sharebucket_slack_api_errors_total", Help: "Slack Web API calls that failed, by method and error.",
		}, []string{"method", "error"}),
		SlackRateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sharebucket_slack_rate_limited_total", Help: "Slack Web API calls answered with HTTP 429, by method.",
		}, []string{"method"}),
		STSLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sharebucket_issue_duration_seconds", Help: "Time to issue a sign-in link: STS AssumeRole plus the federation endpoint.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2, 5, 10, 20},
		}),
		AckLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sharebucket_ack_duration_seconds", Help: "Time from receiving a Socket Mode envelope to queueing its ack.",
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .05, .25, 1},
		}),
		Reconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sharebucket_socket_reconnects_total", Help: "Socket Mode connections opened after the first one.",
		}),
		LinksMinted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sharebucket_links_minted_total", Help: "Console sign-in links issued.",
		}),
	}
	m.Registry.MustRegister(m.Requests, m.Decisions, m.Notices, m.SlackErrors, m.SlackRateLimited,
		m.STSLatency, m.AckLatency, m.Reconnects, m.LinksMinted,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Gauge registers a gauge whose value is read at scrape time.
func (m *Metrics) Gauge(name, help string, value func() float64) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, value))
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}
