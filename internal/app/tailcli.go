package app

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// How `junction tail` keeps its stream.
const (
	// tailIdle is how long a stream may stay silent before it counts as lost: the
	// server sends a keep-alive every 15 s, so three missed ones mean a dead connection.
	tailIdle = 45 * time.Second
	// tailRetryFirst and tailRetryMax bound the wait before reconnecting, doubled on
	// each failed attempt.
	tailRetryFirst = 500 * time.Millisecond
	tailRetryMax   = 10 * time.Second
	// tailDataMax bounds the data a line shows; --json shows it whole.
	tailDataMax = 500
)

// TailOptions say what `junction tail` shows and how.
type TailOptions struct {
	Patterns []string  // event patterns such as order.* (none: every event)
	JSON     bool      // print each event's JSON line as the server sent it
	Notes    io.Writer // lost connections and reconnections are told here (stderr)
}

// tailEvent is one event of GET /events/stream.
type tailEvent struct {
	ID     string          `json:"id"`
	Type   string          `json:"type"`
	Source string          `json:"source"`
	Time   time.Time       `json:"time"`
	Data   json.RawMessage `json:"data"`
}

// Tail prints the events of a running server as they happen, one line each, until ctx
// ends. A connection that drops is made again, with Last-Event-ID; the stream is live
// only, so events published while disconnected are not shown. An answer that is not
// the stream (a bad pattern, a refused token) ends Tail with its error, and so does a
// server that cannot be reached at the start.
func Tail(ctx context.Context, c APIClient, o TailOptions, w io.Writer) error {
	path := "/events/stream"
	if len(o.Patterns) > 0 {
		path += "?types=" + url.QueryEscape(strings.Join(o.Patterns, ","))
	}
	notes := o.Notes
	if notes == nil {
		notes = io.Discard
	}
	lastID, connected := "", false
	wait := tailRetryFirst
	for {
		got, err := c.tailOnce(ctx, path, lastID, func(e tailEvent, raw string) {
			lastID = e.ID
			printTailEvent(w, e, raw, o.JSON)
		})
		if ctx.Err() != nil {
			return nil
		}
		var refused *refusedError
		if errors.As(err, &refused) || err != nil && !connected && !got {
			return err
		}
		if got {
			connected, wait = true, tailRetryFirst
		}
		fmt.Fprintf(notes, "junction tail: %v; reconnecting in %v (events in between are not shown)\n", err, wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, tailRetryMax)
	}
}

// refusedError is an answer to the stream request that is not the stream: trying again
// would get the same.
type refusedError struct{ err error }

func (e *refusedError) Error() string { return e.err.Error() }

// tailOnce reads one connection's stream, calling show for each event, until it ends;
// connected reports whether the server answered with the stream. The error says why it
// ended (never nil: a stream has no natural end).
func (c APIClient) tailOnce(ctx context.Context, path, lastID string, show func(tailEvent, string)) (connected bool, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base()+path, nil)
	if err != nil {
		return false, &refusedError{err}
	}
	req.Header.Set("Accept", "text/event-stream")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{} // no timeout: the answer lasts as long as the watch
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false, fmt.Errorf("cannot reach the Junction server at %s: %w", c.base(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		err := answerError(http.MethodGet, path, resp.StatusCode, answer)
		if resp.StatusCode >= 500 {
			return false, err // a server in trouble may recover
		}
		return false, &refusedError{err}
	}
	errIdle := fmt.Errorf("no keep-alive from the server for %v", tailIdle)
	idle := time.AfterFunc(tailIdle, func() { cancel(errIdle) })
	defer idle.Stop()
	rd := bufio.NewReader(resp.Body)
	var event, data string
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			if cause := context.Cause(ctx); cause == errIdle {
				return true, cause
			}
			if errors.Is(err, io.EOF) {
				return true, errors.New("the server ended the stream")
			}
			return true, fmt.Errorf("connection lost: %w", err)
		}
		idle.Reset(tailIdle)
		line = strings.TrimRight(line, "\r\n")
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch {
		case line == "":
			switch event {
			case "":
			case "overflow":
				var p struct{ Error string }
				_ = json.Unmarshal([]byte(data), &p)
				return true, fmt.Errorf("the server ended the stream: %s", p.Error)
			default:
				var e tailEvent
				if err := json.Unmarshal([]byte(data), &e); err == nil {
					show(e, data)
				}
			}
			event, data = "", ""
		case field == "event":
			event = value
		case field == "data":
			data = value
		}
	}
}

// printTailEvent prints one event: its JSON line as sent, or time, type, source and
// compact data, cut at tailDataMax.
func printTailEvent(w io.Writer, e tailEvent, raw string, asJSON bool) {
	if asJSON {
		fmt.Fprintln(w, raw)
		return
	}
	data := string(e.Data)
	if len(data) > tailDataMax {
		cut := tailDataMax
		for cut > 0 && !utf8.RuneStart(data[cut]) {
			cut--
		}
		data = data[:cut] + fmt.Sprintf("… (%d bytes)", len(e.Data))
	}
	fmt.Fprintf(w, "%s %s %s %s\n", e.Time.UTC().Format(timeLayout), e.Type, e.Source, data)
}

// timeLayout is how the watching commands print times: UTC, to the millisecond.
const timeLayout = "2006-01-02T15:04:05.000Z"
