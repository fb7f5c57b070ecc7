package webhook

import (
	"time"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/policy/retry"
	"github.com/junctionhq/junction/internal/tlsfiles"
)

// Settings are the delivery settings of every endpoint. They come from the
// configuration's delivery settings (config.WebhookDelivery, written as seed 003's
// `integration WebhookDeliveryService { type: webhook … }` block); without them, the
// defaults below apply.
type Settings struct {
	Timeout     time.Duration // per attempt
	Retry       retry.Policy  // the schedule between attempts; Retry.DelayBefore(n) is the wait before attempt n
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
	// TLS is the delivery block's `tls { … }` (a private CA, a client certificate);
	// nil: the system's CAs and no client certificate.
	TLS *tlsfiles.Client

	MaxPayloadBytes      int64 // an event larger than this is refused (413)
	MaxResponseBodyBytes int   // stored response bodies are truncated to this
}

// EventRetentionDefault is how long `junction serve` keeps stored events and the
// finished deliveries of them unless --event-retention says otherwise (Options).
const EventRetentionDefault = 7 * 24 * time.Hour

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

// SettingsFrom reads the delivery settings of cfg, if it has them.
func SettingsFrom(cfg *config.Config) Settings {
	s := Settings{
		Timeout:                TimeoutDefault,
		Retry:                  retry.DeliveryDefaults(),
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
	var wd *config.WebhookDelivery
	if cfg != nil {
		wd = cfg.WebhookDelivery
	}
	if wd != nil {
		s.apply(wd)
	}
	s.MaxAttempts = 1 + s.Retry.Retries()
	return s
}

// apply lays what the configuration wrote over the defaults.
func (s *Settings) apply(wd *config.WebhookDelivery) {
	if wd.Timeout > 0 {
		s.Timeout = wd.Timeout
	}
	s.Retry = s.Retry.With(wd.Retry)
	if cb := wd.CircuitBreaker; cb != nil {
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
	if dl := wd.DeadLetter; dl != nil {
		s.DeadLetter = dl.Enabled
		if dl.Retention > 0 {
			s.DeadLetterRetention = dl.Retention
		}
	}
	if sig := wd.Signature; sig != nil && sig.Header != "" {
		s.SignatureHeader, s.SignatureAlgorithm = sig.Header, sig.Algorithm
	}
	s.AllowedNetworks = wd.AllowedNetworks
	if wd.SecretOverlap > 0 {
		s.SecretOverlap = wd.SecretOverlap
	}
	if wd.Workers > 0 {
		s.Workers = wd.Workers
	}
	if wd.PerEndpointConcurrency > 0 {
		s.PerEndpointConcurrency = wd.PerEndpointConcurrency
	}
	s.SuccessCodes = wd.SuccessCodes
	if wd.TLS != nil {
		files := wd.TLS.ClientFiles()
		s.TLS = &files
	}
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
