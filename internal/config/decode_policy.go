package config

func (d *decoder) multiplier(e *Entry) float64 {
	f, ok := d.float(e)
	if ok && (f < 1 || f > 10) {
		d.rep.errorf(e.KeyPos, "%s: expected a factor from 1 to 10, found %g", e.Key, f)
		return 0
	}
	return f
}

// objectQuiet is object without the error report, for settings with several forms.
func (d *decoder) objectQuiet(e *Entry) (string, []*Entry, bool) {
	ws := e.Value.Words
	if len(ws) == 1 && len(e.Value.Modifiers) == 0 {
		if o, ok := ws[0].(*Object); ok {
			return "", o.Entries, true
		}
	}
	return "", nil, false
}

func isWord(n Node, w string) bool {
	id, ok := n.(*Ident)
	return ok && id.Name == w
}

// circuitBreaker reads { threshold: 5 failures in 1m | 5 consecutive failures | 5,
// reset_after: 30s, half_open_probes: 1, max_concurrent: 100 }. The colon-less dialect's
// `timeout` is the time the circuit stays open, the same as reset_after.
func (d *decoder) circuitBreaker(e *Entry) *CircuitBreaker {
	_, entries, ok := d.object(e)
	if !ok {
		return nil
	}
	cb := &CircuitBreaker{Pos: e.KeyPos}
	resetAfter := func(e *Entry) { cb.ResetAfter, _ = d.positiveDuration(e) }
	d.block("circuit_breaker", entries, map[string]setting{
		"threshold":        func(e *Entry) { d.threshold(e, cb) },
		"reset_after":      resetAfter,
		"timeout":          resetAfter,
		"half_open_probes": func(e *Entry) { cb.HalfOpenProbes, _ = d.integer(e, 1, 1000) },
		"max_concurrent":   func(e *Entry) { cb.MaxConcurrent, _ = d.integer(e, 1, 1_000_000) },
		"notify_on_open":   func(e *Entry) { cb.NotifyOnOpen, _ = d.boolean(e) },
	})
	if cb.Failures == 0 {
		d.rep.errorf(e.KeyPos, "circuit_breaker: missing threshold (such as threshold: 5 failures in 1m)")
	}
	return cb
}

func (d *decoder) threshold(e *Entry, cb *CircuitBreaker) {
	ws := d.words(e.Value).Words
	const form = "N failures in DURATION, N consecutive failures, or a number"
	if len(ws) == 0 {
		d.expect(e, form)
		return
	}
	n, err := intOf(ws[0])
	if err != nil || n < 1 {
		d.expect(e, form)
		return
	}
	switch rest := ws[1:]; {
	case len(rest) == 0:
		cb.Failures, cb.Consecutive = n, true
	case len(rest) == 2 && isWord(rest[0], "consecutive") && (isWord(rest[1], "failures") || isWord(rest[1], "failure")):
		cb.Failures, cb.Consecutive = n, true
	case len(rest) == 3 && (isWord(rest[0], "failures") || isWord(rest[0], "failure")) && isWord(rest[1], "in"):
		w, err := durationOf(rest[2])
		if err != nil || w <= 0 {
			d.rep.errorf(rest[2].Position(), "threshold: expected the window as a duration such as 1m, found %s", Text(rest[2]))
			return
		}
		cb.Failures, cb.Window = n, w
	default:
		d.expect(e, form)
	}
}

func (d *decoder) rateLimit(e *Entry) *RateLimit {
	_, entries, ok := d.object(e)
	if !ok {
		return nil
	}
	rl := &RateLimit{Pos: e.KeyPos}
	d.block("rate_limit", entries, map[string]setting{
		"requests": func(e *Entry) { rl.Requests, _ = d.integer(e, 1, 1<<30) },
		"window":   func(e *Entry) { rl.Window, _ = d.positiveDuration(e) },
		"max_wait": func(e *Entry) { rl.MaxWait, _ = d.positiveDuration(e) },
		"header":   func(e *Entry) { rl.Header, _ = d.str(e) },
	})
	if rl.Requests == 0 || rl.Window == 0 {
		d.rep.errorf(e.KeyPos, "rate_limit: needs requests: and window: (such as requests: 100 and window: 1m)")
	}
	return rl
}

// fallback reads `cache`, `default(VALUE)`, or YAML's { default: VALUE }.
func (d *decoder) fallback(e *Entry) *Fallback {
	const form = "cache or default({ … })"
	ws := d.words(e.Value).Words
	if len(ws) == 1 {
		switch n := ws[0].(type) {
		case *Ident:
			if n.Name == "cache" {
				return &Fallback{Pos: n.P, Kind: FallbackCache}
			}
		case *Call:
			if n.Name == "default" && len(n.Args) == 1 && n.Args[0].Single() != nil {
				if v, ok := d.jsonValue(e.Key, n.Args[0].Single()); ok {
					return &Fallback{Pos: n.P, Kind: FallbackDefault, Default: v}
				}
				return nil
			}
		case *Object:
			if len(n.Entries) == 1 && n.Entries[0].Key == "default" && n.Entries[0].Value.Single() != nil {
				if v, ok := d.jsonValue(e.Key, n.Entries[0].Value.Single()); ok {
					return &Fallback{Pos: n.P, Kind: FallbackDefault, Default: v}
				}
				return nil
			}
		}
	}
	d.expect(e, form)
	return nil
}

func (d *decoder) idempotency(e *Entry) *Idempotency {
	_, entries, ok := d.object(e)
	if !ok {
		return nil
	}
	id := &Idempotency{Pos: e.KeyPos}
	d.block("idempotency", entries, map[string]setting{
		"header":   func(e *Entry) { id.Header, _ = d.str(e) },
		"generate": func(e *Entry) { id.Generate, _ = d.boolean(e) },
	})
	if id.Header == "" {
		d.rep.errorf(e.KeyPos, `idempotency: missing header (such as header: "Idempotency-Key")`)
	}
	return id
}

func (d *decoder) batching(e *Entry) *Batching {
	_, entries, ok := d.object(e)
	if !ok {
		return nil
	}
	b := &Batching{Pos: e.KeyPos, Enabled: true}
	d.block("batching", entries, map[string]setting{
		"enabled":        func(e *Entry) { b.Enabled, _ = d.boolean(e) },
		"max_batch_size": func(e *Entry) { b.MaxBatchSize, _ = d.integer(e, 1, 100_000) },
		"max_delay":      func(e *Entry) { b.MaxDelay, _ = d.positiveDuration(e) },
		"operation":      func(e *Entry) { b.Operation, _ = d.name(e, "the name of the batch operation") },
	})
	if b.Enabled && b.MaxBatchSize == 0 {
		d.rep.errorf(e.KeyPos, "batching: missing max_batch_size")
	}
	return b
}

func (d *decoder) signature(e *Entry) *Signature {
	_, entries, ok := d.object(e)
	if !ok {
		return nil
	}
	s := &Signature{Pos: e.KeyPos, Algorithm: "sha256"}
	d.block("signature", entries, map[string]setting{
		"algorithm": func(e *Entry) {
			s.Algorithm, _ = d.name(e, `"sha256" or "sha512"`)
			if s.Algorithm != "sha256" && s.Algorithm != "sha512" {
				d.expect(e, `"sha256" or "sha512"`)
			}
		},
		"header":      func(e *Entry) { s.Header, _ = d.str(e) },
		"secret_from": func(e *Entry) { s.SecretFrom, _ = d.name(e, "where the secret comes from, such as endpoint.secret") },
	})
	return s
}

func (d *decoder) deadLetter(e *Entry) *DeadLetter {
	_, entries, ok := d.object(e)
	if !ok {
		return nil
	}
	dl := &DeadLetter{Pos: e.KeyPos, Enabled: true}
	d.block("dead_letter", entries, map[string]setting{
		"enabled":   func(e *Entry) { dl.Enabled, _ = d.boolean(e) },
		"retention": func(e *Entry) { dl.Retention, _ = d.positiveDuration(e) },
	})
	return dl
}
