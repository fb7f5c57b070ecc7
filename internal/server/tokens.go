package server

import (
	"fmt"
	"net/http"
	"time"

	"github.com/junctionhq/junction/internal/auth"
	"github.com/junctionhq/junction/internal/errkind"
)

// The token API is a thin adapter over the token service (Options.Tokens): the rules
// (who may manage tokens, valid roles and names, a token never revokes itself) are the
// service's, so they hold for the CLI too.

// tokenView is a token as the API shows it: never the hash.
type tokenView struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Role      auth.Role  `json:"role"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at"`
}

// listTokens answers GET /tokens.
func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) error {
	toks, err := s.tokens.List(r.Context(), actorFrom(r.Context()))
	if err != nil {
		return err
	}
	data := make([]tokenView, 0, len(toks))
	for _, t := range toks {
		data = append(data, tokenView{ID: t.ID, Name: t.Name, Role: t.Role, CreatedAt: t.CreatedAt, RevokedAt: t.RevokedAt})
	}
	return writeJSON(w, http.StatusOK, map[string]any{"data": data})
}

// createTokenRequest is the body of POST /tokens.
type createTokenRequest struct {
	Role auth.Role `json:"role" openapi:"required,enum=admin|user"`
	Name string    `json:"name"`
}

// createdTokenView is the 201 answer to POST /tokens, the only place a secret appears.
type createdTokenView struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Role      auth.Role `json:"role"`
	CreatedAt time.Time `json:"created_at"`
	Token     string    `json:"token"`
}

// createToken answers POST /tokens.
func (s *Server) createToken(w http.ResponseWriter, r *http.Request) error {
	var req createTokenRequest
	if err := decodeJSON(w, r, s.maxBodyBytes, &req); err != nil {
		return err
	}
	by := actorFrom(r.Context())
	secret, tok, err := s.tokens.Create(r.Context(), by, req.Role, req.Name)
	if err != nil {
		return err
	}
	s.logger.InfoContext(r.Context(), "token issued", "token_id", tok.ID, "role", tok.Role, "by", by.TokenID)
	return writeJSON(w, http.StatusCreated, createdTokenView{
		ID: tok.ID, Name: tok.Name, Role: tok.Role, CreatedAt: tok.CreatedAt, Token: secret,
	})
}

// revokeToken answers DELETE /tokens/{id}. Revoking an already revoked token succeeds
// (DELETE is idempotent); a token may not revoke itself (auth.ErrRevokeSelf).
func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	by := actorFrom(r.Context())
	if err := s.tokens.Revoke(r.Context(), by, id); err != nil {
		return describe(err, errkind.ErrNotFound, fmt.Sprintf("no token with id %q", id))
	}
	s.logger.InfoContext(r.Context(), "token revoked", "token_id", id, "by", by.TokenID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
