package fakeapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/hamba/avro/v2"
)

// SchemaRegistryConfig configures the schema registry fake.
type SchemaRegistryConfig struct {
	// Username and Password, when set, are the one valid basic authentication; other
	// requests are 401.
	Username, Password string
}

// SchemaRegistry is a fake of the Confluent Schema Registry's REST API (the part
// serializers use), for Avro schemas:
//
//   - POST /subjects/{subject}/versions {"schema": "…"} registers a schema and answers
//     {"id": N}; the same schema (compared by Avro's canonical form) has one id across
//     subjects, and registering it again answers its id. A schema that does not parse
//     is 422 {"error_code": 42201, "message": "Invalid schema …"}; a schemaType other
//     than AVRO is 422 too (the fake knows only Avro).
//   - GET /schemas/ids/{id} answers {"schema": "…"}; an unknown id is 404
//     {"error_code": 40403, "message": "Schema N not found"}.
//   - GET /subjects/{subject}/versions/latest answers {"subject", "version", "id",
//     "schema"}; an unknown subject is 404 {"error_code": 40401, "message": "Subject
//     'x' not found."}.
//
// Answers are application/vnd.schemaregistry.v1+json, errors in the registry's
// {"error_code", "message"} shape, injected failures included (50001 for a 500).
type SchemaRegistry struct {
	*Server
	cfg SchemaRegistryConfig

	mu       sync.Mutex
	schemas  []string         // by id - 1, as registered
	byForm   map[string]int   // canonical form → id
	subjects map[string][]int // subject → ids of its versions, oldest first
}

// NewSchemaRegistry starts the fake; it is closed when the test ends.
func NewSchemaRegistry(t testing.TB, cfg SchemaRegistryConfig) *SchemaRegistry {
	t.Helper()
	s := &SchemaRegistry{cfg: cfg, byForm: map[string]int{}, subjects: map[string][]int{}}
	s.Server = start(t, nil, func(w http.ResponseWriter, _ *http.Request, status int) {
		registryError(w, status, status*100+1, http.StatusText(status))
	}, http.HandlerFunc(s.serve))
	return s
}

// Register registers schema under subject as a client would, returning its id.
func (s *SchemaRegistry) Register(subject, schema string) (int, error) {
	parsed, err := avro.ParseWithCache(schema, "", &avro.SchemaCache{})
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	form := parsed.String()
	id, ok := s.byForm[form]
	if !ok {
		s.schemas = append(s.schemas, schema)
		id = len(s.schemas)
		s.byForm[form] = id
	}
	versions := s.subjects[subject]
	if len(versions) == 0 || versions[len(versions)-1] != id {
		s.subjects[subject] = append(versions, id)
	}
	return id, nil
}

// Schema returns the schema registered under id ("" when none is).
func (s *SchemaRegistry) Schema(id int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id < 1 || id > len(s.schemas) {
		return ""
	}
	return s.schemas[id-1]
}

func (s *SchemaRegistry) serve(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Username != "" {
		if u, p, ok := r.BasicAuth(); !ok || u != s.cfg.Username || p != s.cfg.Password {
			registryError(w, http.StatusUnauthorized, 401, "Unauthorized")
			return
		}
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.Method == http.MethodGet && len(parts) == 3 && parts[0] == "schemas" && parts[1] == "ids":
		id, err := strconv.Atoi(parts[2])
		text := ""
		if err == nil {
			text = s.Schema(id)
		}
		if text == "" {
			registryError(w, http.StatusNotFound, 40403, fmt.Sprintf("Schema %s not found", parts[2]))
			return
		}
		registryJSON(w, http.StatusOK, map[string]any{"schema": text})
	case r.Method == http.MethodPost && len(parts) == 3 && parts[0] == "subjects" && parts[2] == "versions":
		var req struct {
			Schema     string `json:"schema"`
			SchemaType string `json:"schemaType"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			registryError(w, http.StatusUnprocessableEntity, 42201, "Invalid schema: the body is not JSON")
			return
		}
		if req.SchemaType != "" && req.SchemaType != "AVRO" {
			registryError(w, http.StatusUnprocessableEntity, 42201, "Invalid schema: this fake knows only AVRO")
			return
		}
		id, err := s.Register(parts[1], req.Schema)
		if err != nil {
			registryError(w, http.StatusUnprocessableEntity, 42201, "Invalid schema "+err.Error())
			return
		}
		registryJSON(w, http.StatusOK, map[string]any{"id": id})
	case r.Method == http.MethodGet && len(parts) == 4 && parts[0] == "subjects" && parts[2] == "versions" && parts[3] == "latest":
		s.mu.Lock()
		versions := s.subjects[parts[1]]
		s.mu.Unlock()
		if len(versions) == 0 {
			registryError(w, http.StatusNotFound, 40401, fmt.Sprintf("Subject '%s' not found.", parts[1]))
			return
		}
		id := versions[len(versions)-1]
		registryJSON(w, http.StatusOK, map[string]any{"subject": parts[1], "version": len(versions), "id": id, "schema": s.Schema(id)})
	default:
		registryError(w, http.StatusNotFound, 404, "HTTP 404 Not Found")
	}
}

func registryJSON(w http.ResponseWriter, status int, v any) {
	body, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func registryError(w http.ResponseWriter, status, code int, msg string) {
	registryJSON(w, status, map[string]any{"error_code": code, "message": msg})
}
