package redact

import (
	"errors"
	"net/url"
	"slices"
	"strings"
)

// Mask replaces a secret in redacted text.
const Mask = "[REDACTED]"

// URL returns raw without user info and with every query value masked (the names are
// kept: they help a reader and are not secret). The fragment is dropped. Text that does
// not parse as a URL is masked whole, since it cannot be shown to be harmless.
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return Mask
	}
	return redactedURL(u).String()
}

func redactedURL(u *url.URL) *url.URL {
	c := *u
	c.User, c.Fragment, c.RawFragment = nil, "", ""
	if c.RawQuery != "" {
		q := c.Query()
		for k, vs := range q {
			for i := range vs {
				vs[i] = Mask
			}
			q[k] = vs
		}
		// Encode escapes the mask's brackets; keep it readable.
		c.RawQuery = strings.ReplaceAll(q.Encode(), url.QueryEscape(Mask), Mask)
	}
	return &c
}

// Error returns err with the URL of every *url.Error in its chain redacted, as URL does.
// errors.Is and errors.As still find the causes (a timeout, a refused connection), but
// the *url.Error itself is no longer reachable, so nothing can print its raw URL.
func Error(err error) error {
	if err == nil {
		return nil
	}
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	msg := err.Error()
	if ue.URL != "" {
		msg = strings.ReplaceAll(msg, ue.URL, URL(ue.URL))
	}
	// The rest of the text may still quote parts of the URL (a DNS error names the host,
	// which is fine); the query and user info appear only inside ue.URL.
	return &redactedError{msg: msg, cause: ue.Err}
}

type redactedError struct {
	msg   string
	cause error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.cause }

// Timeout reports whether the redacted error was a timeout, as *url.Error does, so
// callers that asked the original error keep their answer.
func (e *redactedError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.cause, &t) && t.Timeout()
}

// Scrubber removes known secret values from text. The zero value removes nothing.
type Scrubber struct {
	forms []string
}

// minSecretLen keeps very short values (a one-letter user name) from masking ordinary
// words all over a message.
const minSecretLen = 4

// NewScrubber returns a scrubber for the given secrets, in their raw, query-escaped and
// path-escaped forms.
func NewScrubber(secrets ...string) *Scrubber {
	s := &Scrubber{}
	s.Add(secrets...)
	return s
}

// Add registers more secrets.
func (s *Scrubber) Add(secrets ...string) {
	for _, v := range secrets {
		if len(v) < minSecretLen {
			continue
		}
		for _, f := range []string{v, url.QueryEscape(v), url.PathEscape(v)} {
			if !slices.Contains(s.forms, f) {
				s.forms = append(s.forms, f)
			}
		}
	}
	// Longest first, so a secret that contains another is masked whole.
	slices.SortStableFunc(s.forms, func(a, b string) int { return len(b) - len(a) })
}

// String returns text with every registered secret masked.
func (s *Scrubber) String(text string) string {
	if s == nil {
		return text
	}
	for _, f := range s.forms {
		if strings.Contains(text, f) {
			text = strings.ReplaceAll(text, f, Mask)
		}
	}
	return text
}

// Error returns err with its text scrubbed, and err itself when it holds no secret.
// errors.Is/As still reach err and its causes: the scrubber cleans what is printed; a
// caller that digs out a cause and prints it is on its own.
func (s *Scrubber) Error(err error) error {
	if err == nil || s == nil {
		return err
	}
	msg := err.Error()
	clean := s.String(msg)
	if clean == msg {
		return err
	}
	return &redactedError{msg: clean, cause: err}
}
