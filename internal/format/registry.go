package format

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hamba/avro/v2"
	"golang.org/x/sync/singleflight"
)

// Registry is a client of a Confluent Schema Registry (or one that speaks its API, such
// as Redpanda's or Karapace): Avro schemas by id for decoding, and a subject's id for
// encoding. Schemas never change under an id, so they are kept once fetched; concurrent
// misses of one id make one request.
type Registry struct {
	base               *url.URL
	username, password string
	client             *http.Client

	group singleflight.Group
	mu    sync.Mutex
	byID  map[int]avro.Schema
	ids   map[string]registered // by subject and schema text ("" for the latest version)
}

type registered struct {
	id     int
	schema avro.Schema
}

// registryTimeout bounds each request to the registry.
const registryTimeout = 10 * time.Second

// NewRegistry makes a client of the registry at rawURL (http or https), with basic
// authentication when username is set.
func NewRegistry(rawURL, username, password string) (*Registry, error) {
	u, err := url.Parse(rawURL)
	switch {
	case err == nil && u.User != nil || strings.Contains(rawURL, "@"):
		// Checked first, so that no message quotes a password.
		return nil, errors.New("the schema registry URL must not hold credentials: set username and password")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return nil, fmt.Errorf("the schema registry URL must be http:// or https://, found %q", rawURL)
	}
	return &Registry{
		base: u, username: username, password: password,
		client: &http.Client{Timeout: registryTimeout},
		byID:   map[int]avro.Schema{}, ids: map[string]registered{},
	}, nil
}

// UnavailableError is a failure of a service a codec needs (the schema registry
// unreachable, answering 5xx, 429 or refusing the credentials): a retry may mend it,
// unlike a message that cannot be decoded.
type UnavailableError struct{ Err error }

func (e *UnavailableError) Error() string { return e.Err.Error() }
func (e *UnavailableError) Unwrap() error { return e.Err }

// registryAnswer is what the registry's endpoints answer, success or error.
type registryAnswer struct {
	ID         int               `json:"id"`
	Schema     string            `json:"schema"`
	SchemaType string            `json:"schemaType"`
	References []json.RawMessage `json:"references"`
	ErrorCode  int               `json:"error_code"`
	Message    string            `json:"message"`
}

// SchemaByID returns the Avro schema registered under id.
func (r *Registry) SchemaByID(ctx context.Context, id int) (avro.Schema, error) {
	r.mu.Lock()
	s, ok := r.byID[id]
	r.mu.Unlock()
	if ok {
		return s, nil
	}
	v, err, _ := r.group.Do("id:"+strconv.Itoa(id), func() (any, error) {
		var a registryAnswer
		if err := r.do(ctx, http.MethodGet, "/schemas/ids/"+strconv.Itoa(id), nil, &a); err != nil {
			return nil, fmt.Errorf("schema %d: %w", id, err)
		}
		s, err := a.avroSchema()
		if err != nil {
			return nil, fmt.Errorf("schema %d: %w", id, err)
		}
		r.mu.Lock()
		r.byID[id] = s
		r.mu.Unlock()
		return s, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(avro.Schema), nil
}

// Register registers the schema text under subject (registering a schema the subject
// has is how the registry tells its id) and returns the id. The text is sent as
// written: Avro's canonical form would drop its defaults and logical types.
func (r *Registry) Register(ctx context.Context, subject, text string) (int, error) {
	got, err := r.subjectID(ctx, subject, text, func(a *registryAnswer) error {
		body, _ := json.Marshal(map[string]string{"schema": text})
		return r.do(ctx, http.MethodPost, "/subjects/"+url.PathEscape(subject)+"/versions", body, a)
	})
	if err != nil {
		return 0, err
	}
	return got.id, nil
}

// Latest returns the id and schema of the subject's latest version. It is looked up
// once: a codec keeps writing with the schema it found until it is made again (a flow
// restarted).
func (r *Registry) Latest(ctx context.Context, subject string) (int, avro.Schema, error) {
	got, err := r.subjectID(ctx, subject, "", func(a *registryAnswer) error {
		return r.do(ctx, http.MethodGet, "/subjects/"+url.PathEscape(subject)+"/versions/latest", nil, a)
	})
	if err != nil {
		return 0, nil, err
	}
	return got.id, got.schema, nil
}

func (r *Registry) subjectID(ctx context.Context, subject, text string, ask func(*registryAnswer) error) (registered, error) {
	key := subject + "\x00" + text
	r.mu.Lock()
	got, ok := r.ids[key]
	r.mu.Unlock()
	if ok {
		return got, nil
	}
	v, err, _ := r.group.Do("subject:"+key, func() (any, error) {
		var a registryAnswer
		if err := ask(&a); err != nil {
			return nil, fmt.Errorf("subject %s: %w", subject, err)
		}
		got := registered{id: a.ID}
		if text == "" {
			s, err := a.avroSchema()
			if err != nil {
				return nil, fmt.Errorf("subject %s: %w", subject, err)
			}
			got.schema = s
		}
		r.mu.Lock()
		r.ids[key] = got
		r.mu.Unlock()
		return got, nil
	})
	if err != nil {
		return registered{}, err
	}
	return v.(registered), nil
}

func (a *registryAnswer) avroSchema() (avro.Schema, error) {
	if a.SchemaType != "" && a.SchemaType != "AVRO" {
		return nil, fmt.Errorf("the registry holds a %s schema, not Avro", a.SchemaType)
	}
	if len(a.References) > 0 {
		return nil, errors.New("schemas with references are not supported")
	}
	return parseAvroSchema(a.Schema)
}

// maxRegistryAnswer bounds what is read of an answer: schemas are small.
const maxRegistryAnswer = 4 << 20

// do makes one request and decodes the answer into a. Error answers say what the
// registry said (its error_code and message); those a retry may mend are
// *UnavailableError.
func (r *Registry) do(ctx context.Context, method, path string, body []byte, a *registryAnswer) error {
	u := r.base.JoinPath(path)
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/vnd.schemaregistry.v1+json, application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	}
	if r.username != "" {
		req.SetBasicAuth(r.username, r.password)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		// The error names the URL, which holds no credentials (NewRegistry refuses them).
		return &UnavailableError{Err: fmt.Errorf("schema registry: %w", err)}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxRegistryAnswer))
	if err != nil {
		return &UnavailableError{Err: fmt.Errorf("schema registry: reading the answer: %w", err)}
	}
	decodeErr := json.Unmarshal(raw, a)
	if resp.StatusCode/100 != 2 {
		what := fmt.Sprintf("schema registry answered %d", resp.StatusCode)
		if decodeErr == nil && a.Message != "" {
			what += fmt.Sprintf(" (error %d: %s)", a.ErrorCode, a.Message)
		}
		err := errors.New(what)
		switch {
		case resp.StatusCode >= 500, resp.StatusCode == http.StatusTooManyRequests,
			resp.StatusCode == http.StatusUnauthorized, resp.StatusCode == http.StatusForbidden:
			return &UnavailableError{Err: err}
		}
		return err
	}
	if decodeErr != nil {
		return &UnavailableError{Err: fmt.Errorf("schema registry: the answer is not JSON: %s", strings.TrimSpace(string(raw[:min(len(raw), 100)])))}
	}
	return nil
}
