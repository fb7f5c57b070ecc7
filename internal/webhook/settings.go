package webhook

import (
	"time"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/policy/retry"
)

// Settings are the delivery settings of every endpoint. They come from the
// configuration's `type: webhook` integration block (seed 003's WebhookDeliveryService;
// the configuration allows one); without one, the defaults below apply.
type Settings struct {
	Timeout     time.Duration // per attempt
	Retry       retry.Policy  // the schedule between attempts
	MaxAttempts int           // 1 + retries

	// An endpoint's circuit opens after BreakerThreshold failures: consecutive ones, or
	// with a BreakerWindow those less than the window old (`5 failures in 1m`). It stays
	// open BreakerResetAfter, then BreakerProbes deliveries go as probes: one success
	// closes it, a failure opens it again. 0 turns the breaker off.
	BreakerThreshold  int
	BreakerWindow     time.Duration
	BreakerResetAfter time.Duration
	BreakerProbes     int

	DeadLetter          bool
	DeadLetterRetention time.Duration

	// SignatureHeader, when set, adds the seed's signature form
	// (`<header>: sha256=<hex>`) beside the Standard Webhooks headers.
	SignatureHeader    string
	SignatureAlgorithm string

	AllowedNetworks        []string // CIDRs deliveries may reach although private
	SecretOverlap          time.Duration
	Workers                int
	PerEndpointConcurrency int
	SuccessCodes           []int // default: any 2xx

	MaxPayloadBytes      int64 // an event larger than this is refused (413)
	MaxResponseBodyBytes int   // stored response bodies are truncated to this
}

// Defaults of the delivery settings.
const (
	TimeoutDefault                = 30 * time.Second
	BreakerThresholdDefault       = 5
	BreakerResetAfterDefault      = 5 * time.Minute
	BreakerProbesDefault          = 1
	DeadLetterRetentionDefault    = 7 * 24 * time.Hour
	SecretOverlapDefault          = 24 * time.Hour
	WorkersDefault                = 16
	PerEndpointConcurrencyDefault = 4
	MaxPayloadBytesDefault        = 256 << 10
	MaxResponseBodyBytesDefault   = 4 << 10
)

// defaultSchedule is used without a webhook integration block: retries after 1 m, 5 m,
// 30 m, 2 h and 8 h (seed 003's schedule).
var defaultSchedule = []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 8 * time.Hour}

// SettingsFrom reads the delivery settings of cfg's webhook integration, if it has one.
func SettingsFrom(cfg *config.Config) Settings {
	s := Settings{
		Timeout:                TimeoutDefault,
		Retry:                  retry.Policy{Delays: defaultSchedule, Attempts: len(defaultSchedule)},
		BreakerThreshold:       BreakerThresholdDefault,
		BreakerResetAfter:      BreakerResetAfterDefault,
		BreakerProbes:          BreakerProbesDefault,
		DeadLetter:             true,
		DeadLetterRetention:    DeadLetterRetentionDefault,
		SecretOverlap:          SecretOverlapDefault,
		Workers:                WorkersDefault,
		PerEndpointConcurrency: PerEndpointConcurrencyDefault,
		MaxPayloadBytes:        MaxPayloadBytesDefault,
		MaxResponseBodyBytes:   MaxResponseBodyBytesDefault,
	}
	var in *config.Integration
	if cfg != nil {
		for _, c := range cfg.Integrations {
			if c.Type == config.TypeWebhook {
				in = c
				break
			}
		}
	}
	if in == nil {
		s.MaxAttempts = 1 + s.Retry.Attempts
		return s
	}
	if in.Timeout > 0 {
		s.Timeout = in.Timeout
	}
	if in.Retry != nil {
		s.Retry = retry.FromConfig(in.Retry)
	}
	if cb := in.CircuitBreaker; cb != nil {
		s.BreakerThreshold = cb.Failures
		if !cb.Consecutive {
			s.BreakerWindow = cb.Window
		}
		if cb.ResetAfter > 0 {
			s.BreakerResetAfter = cb.ResetAfter
		}
		if cb.HalfOpenProbes > 0 {
			s.BreakerProbes = cb.HalfOpenProbes
		}
	}
	if dl := in.DeadLetter; dl != nil {
		s.DeadLetter = dl.Enabled
		if dl.Retention > 0 {
			s.DeadLetterRetention = dl.Retention
		}
	}
	if sig := in.Signature; sig != nil && sig.Header != "" {
		s.SignatureHeader, s.SignatureAlgorithm = sig.Header, sig.Algorithm
	}
	s.AllowedNetworks = in.AllowedNetworks
	if in.SecretOverlap > 0 {
		s.SecretOverlap = in.SecretOverlap
	}
	if in.Workers > 0 {
		s.Workers = in.Workers
	}
	if in.PerEndpointConcurrency > 0 {
		s.PerEndpointConcurrency = in.PerEndpointConcurrency
	}
	for _, op := range in.Operations {
		if len(op.SuccessCodes) > 0 {
			s.SuccessCodes = op.SuccessCodes
			break
		}
	}
	s.MaxAttempts = 1 + s.Retry.Attempts
	if n := len(s.Retry.Delays); n > 0 && s.Retry.Attempts == 0 {
		s.MaxAttempts = 1 + n
	}
	return s
}

// delay is the wait before attempt number next (2 for the first retry).
func (s Settings) delay(next int) time.Duration {
	sched := s.Retry.Schedule()
	var d time.Duration
	for range next - 1 {
		var ok bool
		if d, ok = sched.Next(); !ok {
			break
		}
	}
	return d
}

func (s Settings) success(status int) bool {
	if len(s.SuccessCodes) == 0 {
		return status >= 200 && status < 300
	}
	for _, c := range s.SuccessCodes {
		if c == status {
			return true
		}
	}
	return false
}
