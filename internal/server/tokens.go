package server

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/junctionhq/junction/internal/auth"
	"github.com/junctionhq/junction/internal/store"
)

// tokenView is a token as the API shows it: never the hash.
type tokenView struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Role      store.Role `json:"role"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at"`
}

func viewOf(t store.Token) tokenView {
	return tokenView{ID: t.ID, Name: t.Name, Role: t.Role, CreatedAt: t.CreatedAt, RevokedAt: t.RevokedAt}
}

// listTokens answers GET /tokens.
func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) {
	toks, err := s.store.TokenList(r.Context())
	if err != nil {
		s.internalError(w, r, fmt.Errorf("list tokens: %w", err))
		return
	}
	data := make([]tokenView, 0, len(toks))
	for _, t := range toks {
		data = append(data, viewOf(t))
	}
	s.writeJSON(w, r, http.StatusOK, map[string]any{"data": data})
}

// createTokenRequest is the body of POST /tokens.
type createTokenRequest struct {
	Role store.Role `json:"role"`
	Name string     `json:"name"`
}

// validate returns one FieldError per offending field, all at once, so a client can fix
// its request in one round trip.
func (req createTokenRequest) validate() []FieldError {
	var errs []FieldError
	switch {
	case req.Role == "":
		errs = append(errs, FieldError{Field: "role", Detail: fmt.Sprintf("role is required: %q or %q", store.RoleAdmin, store.RoleUser)})
	case !req.Role.Valid():
		errs = append(errs, FieldError{Field: "role", Detail: fmt.Sprintf("role must be %q or %q, not %q", store.RoleAdmin, store.RoleUser, req.Role)})
	}
	if err := auth.ValidateName(req.Name); err != nil {
		errs = append(errs, FieldError{Field: "name", Detail: trimSentinel(err, auth.ErrInvalidName)})
	}
	return errs
}

// createdTokenView is the 201 answer to POST /tokens, the only place a secret appears.
type createdTokenView struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Role      store.Role `json:"role"`
	CreatedAt time.Time  `json:"created_at"`
	Token     string     `json:"token"`
}

// createToken answers POST /tokens.
func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	var req createTokenRequest
	if p := decodeJSON(w, r, s.maxBodyBytes, &req); p != nil {
		WriteProblem(w, r, *p)
		return
	}
	if errs := req.validate(); len(errs) > 0 {
		WriteProblem(w, r, invalid("the token request is invalid; see errors", errs...))
		return
	}
	secret, tok, err := auth.Issue(r.Context(), s.store, req.Role, req.Name, s.clock())
	if err != nil {
		s.internalError(w, r, fmt.Errorf("create token: %w", err))
		return
	}
	by, _ := tokenFrom(r.Context())
	s.logger.InfoContext(r.Context(), "token issued", "token_id", tok.ID, "role", tok.Role, "by", by.ID)
	s.writeJSON(w, r, http.StatusCreated, createdTokenView{
		ID: tok.ID, Name: tok.Name, Role: tok.Role, CreatedAt: tok.CreatedAt, Token: secret,
	})
}

// revokeToken answers DELETE /tokens/{id}. Revoking an already revoked token succeeds
// (DELETE is idempotent). A token may not revoke itself; see the package doc.
func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if by, ok := tokenFrom(r.Context()); ok && by.ID == id {
		WriteProblem(w, r, NewProblem(KindForbidden, "a token cannot revoke itself; use another admin token"))
		return
	}
	err := s.store.TokenRevoke(r.Context(), id, s.clock().UTC())
	if errors.Is(err, store.ErrNotFound) {
		WriteProblem(w, r, NewProblem(KindNotFound, fmt.Sprintf("no token with id %q", id)))
		return
	}
	if err != nil {
		s.internalError(w, r, fmt.Errorf("revoke token %s: %w", id, err))
		return
	}
	s.auth.Forget(id)
	by, _ := tokenFrom(r.Context())
	s.logger.InfoContext(r.Context(), "token revoked", "token_id", id, "by", by.ID)
	w.WriteHeader(http.StatusNoContent)
}

// trimSentinel drops the "sentinel: " prefix from a wrapped error's message, leaving
// the part meant for the reader.
func trimSentinel(err, sentinel error) string {
	msg := err.Error()
	prefix := sentinel.Error() + ": "
	if len(msg) > len(prefix) && msg[:len(prefix)] == prefix {
		return msg[len(prefix):]
	}
	return msg
}
