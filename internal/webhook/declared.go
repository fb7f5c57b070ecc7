package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/netguard"
	"github.com/junctionhq/junction/internal/policy/retry"
	"github.com/junctionhq/junction/internal/redact"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/webhook/signing"
)

// Declared webhooks (`webhook NAME { … }` blocks) are endpoints owned by the
// configuration:
//
//   - Sync, run when a runtime starts (at start-up and on every reload), makes the store
//     agree with the declarations, matched by name: it creates the missing endpoints
//     (Managed, with the declared secret or a generated one, kept afterwards), changes
//     url, events and secret where the declaration changed (a new url resets the
//     circuit, as PUT does; a new secret keeps the old one signing for SecretOverlap, as
//     a rotation does), makes them active again, and deletes, as DELETE does, the
//     managed endpoints no declaration names any more. An endpoint whose declaration did
//     not change keeps its id, secret and circuit.
//   - An endpoint made through the API with a declared webhook's name is never taken
//     over: Sync fails, naming both, and the start or reload with it.
//   - The API refuses to change managed endpoints (ErrManaged) and to give an endpoint a
//     declared webhook's name; testing, retrying, resetting the circuit and listing
//     deliveries stay allowed.
//   - A declaration's method, headers and retry apply to its deliveries. Header values
//     may be secrets: they live in this process's memory only, never in the store, a
//     log or an answer. They are set before Junction's own headers, which therefore
//     always win (the config refuses to declare those, but for Content-Type:
//     application/json).
//   - A declaration whose url, header or secret reads an unset variable or unreadable
//     file is misconfigured: its endpoint exists and its deliveries are stored, but no
//     attempt is sent (each fails with the reason, on the retry schedule, so a reload
//     that fixes it lets the next attempt through), and GET /webhooks says why.

// ErrManaged is the class of the API's refusals to change an endpoint the configuration
// owns, or to give another endpoint a declared webhook's name.
var ErrManaged = errors.New("declared in the configuration")

// ManagedError is a refused change of a declared endpoint.
type ManagedError struct {
	Name   string // the declared webhook
	At     string // file:line:col of its declaration; "" when the configuration in force no longer has it
	Action string // what was refused, such as "changed through the API"
}

func (e *ManagedError) Error() string {
	at := ""
	if e.At != "" {
		at = " at " + e.At
	}
	return fmt.Sprintf("endpoint %s is %s%s, so it cannot be %s: change the webhook block and reload the configuration", e.Name, ErrManaged, at, e.Action)
}

func (e *ManagedError) Unwrap() error { return ErrManaged }

// Declared is a webhook the configuration declares, resolved for one runtime.
type Declared struct {
	Name string
	At   string // file:line:col of the block
	URL  string // resolved; "" when it cannot be resolved (see Misconfigured)
	// WrittenURL is the url as written, references unresolved: what a misconfigured
	// webhook's new endpoint stores until a sync can resolve it.
	WrittenURL string
	Events     []string
	Method     string
	// Header holds the declared headers. Their values may be secrets: memory only.
	Header http.Header
	// Secrets are the header values read from the environment or a file: masked in what
	// an attempt stores (its error, the receiver's answer).
	Secrets     []string
	Secret      string // the declared signing secret, resolved; "" when none is declared (or it cannot be resolved)
	Retry       retry.Policy
	MaxAttempts int
	// Misconfigured says why nothing is sent to it ("" when it is fine): a reference
	// that cannot be resolved, a secret that is not a signing secret.
	Misconfigured string
}

// DeclaredStatus is what the API shows of a managed endpoint beside the stored fields.
type DeclaredStatus struct {
	At            string // file:line:col of the declaration
	Misconfigured string
}

// Declare resolves the configuration's webhooks with the delivery settings s. What the
// configuration gets wrong (an event type that is not one, a literal url Junction cannot
// send to, a header that is the configured signature header) is a *config.OptionError
// with its position (joined); what the environment lacks makes the webhook
// misconfigured instead.
func Declare(cfg *config.Config, s Settings, lookup config.LookupEnv) ([]Declared, error) {
	var out []Declared
	var errs []error
	for _, w := range cfg.Webhooks {
		d := Declared{
			Name: w.Name, At: w.Pos.String(), Events: dedupe(w.Events), Method: w.Method, WrittenURL: w.URL.String(),
			Header: http.Header{}, Retry: s.Retry.With(w.Retry),
		}
		if d.Method == "" {
			d.Method = http.MethodPost
		}
		d.MaxAttempts = 1 + d.Retry.Retries()
		var problems []string
		for _, p := range w.EnvProblems(lookup) {
			problems = append(problems, p.Setting+": "+p.Err.Error())
		}
		for _, e := range d.Events {
			if !eventPattern.MatchString(e) {
				errs = append(errs, &config.OptionError{Pos: w.Pos, Msg: fmt.Sprintf("webhook %s: %q is not an event type (letters, digits, _ and - in dot-separated parts; a final .* or * alone matches many)", w.Name, e)})
			}
		}
		if u, err := w.URL.Resolve(lookup); err == nil {
			if cerr := netguard.CheckURL(u); cerr != nil {
				msg := "url: " + redact.Error(cerr).Error()
				if w.URL.IsLiteral() {
					errs = append(errs, &config.OptionError{Pos: w.URL.Pos, Msg: fmt.Sprintf("webhook %s %s", w.Name, msg)})
				} else {
					problems = append(problems, msg)
				}
			} else {
				d.URL = u
			}
		}
		for _, h := range w.Headers {
			if s.SignatureHeader != "" && strings.EqualFold(h.Name, s.SignatureHeader) {
				errs = append(errs, &config.OptionError{Pos: h.Pos, Msg: fmt.Sprintf("webhook %s header %s: the webhook delivery settings sign every delivery in this header; remove it", w.Name, h.Name)})
				continue
			}
			if v, err := h.Value.Resolve(lookup); err == nil {
				d.Header.Set(h.Name, v)
				if !h.Value.IsLiteral() {
					d.Secrets = append(d.Secrets, v)
				}
			}
		}
		if !w.Secret.IsZero() {
			if v, err := w.Secret.Resolve(lookup); err == nil {
				if verr := signing.ValidSecret(v); verr != nil {
					problems = append(problems, "secret: "+verr.Error()+" (make one with `openssl rand -base64 32` and prefix it with whsec_)")
				} else {
					d.Secret = v
				}
			}
		}
		d.Misconfigured = strings.Join(problems, "; ")
		out = append(out, d)
	}
	return out, errors.Join(errs...)
}

// declaredSet is the declared webhooks of a runtime, by name. It is set once, before the
// runtime serves or delivers, and only read afterwards.
type declaredSet map[string]*Declared

// SetDeclared gives the service the configuration's declared webhooks (see Declare).
// Call it before the service serves or delivers; Sync puts them in the store.
func (s *Service) SetDeclared(ds []Declared) {
	set := declaredSet{}
	for i := range ds {
		set[ds[i].Name] = &ds[i]
	}
	s.declared = set
}

// Declared returns what the configuration in force says of a managed endpoint, for the
// API; ok is false for an endpoint made through the API.
func (s *Service) Declared(ep store.Endpoint) (DeclaredStatus, bool) {
	if !ep.Managed {
		return DeclaredStatus{}, false
	}
	d := s.declared[ep.Name]
	if d == nil {
		return DeclaredStatus{Misconfigured: "no longer declared in the configuration in force"}, true
	}
	return DeclaredStatus{At: d.At, Misconfigured: d.Misconfigured}, true
}

// declaredOf is the declaration of a managed endpoint (nil for an API endpoint, or a
// managed one the configuration in force no longer declares).
func (s *Service) declaredOf(ep store.Endpoint) *Declared {
	if !ep.Managed {
		return nil
	}
	return s.declared[ep.Name]
}

// refuseManaged returns a *ManagedError when ep is owned by the configuration.
func (s *Service) refuseManaged(ep store.Endpoint, action string) error {
	if !ep.Managed {
		return nil
	}
	e := &ManagedError{Name: ep.Name, Action: action}
	if d := s.declared[ep.Name]; d != nil {
		e.At = d.At
	}
	return e
}

// refuseDeclaredName refuses to give an API endpoint a declared webhook's name: the
// next start or reload would find the two ambiguous.
func (s *Service) refuseDeclaredName(name *string) error {
	if name == nil {
		return nil
	}
	if d := s.declared[strings.TrimSpace(*name)]; d != nil {
		return &ManagedError{Name: d.Name, At: d.At, Action: "the name of an endpoint made through the API"}
	}
	return nil
}

// Sync makes the store's managed endpoints agree with the declared webhooks (see the
// top of this file). It changes nothing when an API endpoint has a declared webhook's
// name. Another process syncing at the same moment may create an endpoint first: Sync
// then runs once more and adopts it.
func (s *Service) Sync(ctx context.Context) error {
	err := s.sync(ctx)
	if errors.Is(err, store.ErrConflict) {
		err = s.sync(ctx)
	}
	s.invalidate()
	s.Wake()
	return err
}

// CheckDeclared reads the store and fails, as Sync would, when an endpoint made through
// the API has a declared webhook's name; it writes nothing. A node of a cluster that
// does not hold the declared-webhooks lease checks its configuration with it, so a
// conflict fails its start or reload as it would on the holder.
func (s *Service) CheckDeclared(ctx context.Context) error {
	_, _, err := s.managedEndpoints(ctx)
	return err
}

// managedEndpoints reads the endpoints Sync works on: the declared names in order, and
// the managed endpoints by name; it fails on a name conflict (see CheckDeclared).
func (s *Service) managedEndpoints(ctx context.Context) ([]string, map[string]store.Endpoint, error) {
	names := make([]string, 0, len(s.declared))
	for name := range s.declared {
		names = append(names, name)
	}
	slices.Sort(names)
	existing, err := s.store.EndpointsManagedOrNamed(ctx, names)
	if err != nil {
		return nil, nil, fmt.Errorf("declared webhooks: %w", err)
	}
	managed := map[string]store.Endpoint{}
	var conflicts []error
	for _, ep := range existing {
		if ep.Managed {
			managed[ep.Name] = ep
			continue
		}
		if d := s.declared[ep.Name]; d != nil {
			conflicts = append(conflicts, fmt.Errorf("%s: webhook %s: endpoint %s, made through the API, has the same name; Junction does not take it over: rename or delete that endpoint (PUT or DELETE /webhooks/%s), or rename the webhook block", d.At, d.Name, ep.ID, ep.ID))
		}
	}
	if len(conflicts) > 0 {
		return nil, nil, fmt.Errorf("declared webhooks:\n%w", errors.Join(conflicts...))
	}
	return names, managed, nil
}

func (s *Service) sync(ctx context.Context) error {
	names, managed, err := s.managedEndpoints(ctx)
	if err != nil {
		return err
	}
	now := s.opts.Clock.Now().UTC()
	var created, changed, deleted int
	for _, name := range names {
		d := s.declared[name]
		if d.Misconfigured != "" {
			s.opts.Logger.Warn("declared webhook misconfigured: nothing is sent to it", "webhook", d.Name, "at", d.At, "reason", d.Misconfigured)
		}
		ep, ok := managed[name]
		if !ok {
			if err := s.createDeclared(ctx, d, now); err != nil {
				return fmt.Errorf("declared webhooks: create %s: %w", name, err)
			}
			created++
			continue
		}
		if p, change := s.declaredPatch(ep, d, now); change {
			if _, err := s.store.EndpointUpdate(ctx, ep.ID, p); err != nil {
				return fmt.Errorf("declared webhooks: update %s: %w", name, err)
			}
			changed++
		}
	}
	for name, ep := range managed {
		if s.declared[name] != nil {
			continue
		}
		if err := s.store.EndpointDelete(ctx, ep.ID, now); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("declared webhooks: delete %s: %w", name, err)
		}
		deleted++
	}
	if created+changed+deleted > 0 {
		s.opts.Logger.Info("declared webhooks synced", "created", created, "changed", changed, "deleted", deleted)
	}
	return nil
}

func (s *Service) createDeclared(ctx context.Context, d *Declared, now time.Time) error {
	secret := d.Secret
	if secret == "" {
		var err error
		if secret, err = signing.NewSecret(); err != nil {
			return err
		}
	}
	url := d.URL
	if url == "" {
		url = d.WrittenURL // misconfigured: never sent to; the next sync that resolves it sets it
	}
	_, err := s.store.EndpointCreate(ctx, store.Endpoint{
		ID: newUUID(), Name: d.Name, URL: url, Secret: secret, Events: d.Events,
		IsActive: true, IsHealthy: true, Managed: true, CreatedAt: now, UpdatedAt: now,
	})
	return err
}

// declaredPatch is what turns ep into what d declares; change is false when nothing does.
func (s *Service) declaredPatch(ep store.Endpoint, d *Declared, now time.Time) (store.EndpointPatch, bool) {
	p := store.EndpointPatch{UpdatedAt: now}
	change := false
	if d.URL != "" && d.URL != ep.URL {
		// Another URL is another receiver: the old one's failures say nothing about it.
		p.URL, p.ResetCircuit, change = &d.URL, true, true
	}
	if !slices.Equal(d.Events, ep.Events) {
		p.Events, change = &d.Events, true
	}
	if !ep.IsActive {
		// The configuration says it delivers: a 410 Gone disables it until the next
		// start or reload.
		active, reason := true, ""
		p.IsActive, p.DisabledReason, change = &active, &reason, true
	}
	if d.Secret != "" && d.Secret != ep.Secret {
		until := now.Add(s.settings.SecretOverlap)
		p.Secret, p.PreviousSecret, p.PreviousSecretUntil, change = &d.Secret, &ep.Secret, &until, true
	}
	return p, change
}
