package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/junctionhq/junction/internal/auth"
	"github.com/junctionhq/junction/internal/console"
)

// The operating console (E5): a page served at / that works over this same API. A person
// signs in with an API token, which is then kept in an HttpOnly cookie (scripts on the
// page never see it); what the token may do is what the page may do.

const (
	sessionCookie = "junction_session"
	csrfHeader    = "X-CSRF-Token"
	// sessionMaxAge bounds how long a browser keeps a session; the token itself may be
	// revoked at any time, which ends the session at the next request.
	sessionMaxAge = 12 * time.Hour
)

func (s *Server) consoleRoutes() {
	s.handlePublic("GET /{$}", s.consolePage)
	s.handlePublicPrefix("GET /console/assets/{file...}", "/console/assets/", s.consoleAsset)
	s.handlePublic("POST /console/session", s.signIn)
	s.handlePublic("DELETE /console/session", s.signOut)
	s.handle("GET /console/me", auth.RoleUser, s.whoAmI)
}

// sessionToken is the token in the session cookie, if the request carries one.
func sessionToken(r *http.Request) (string, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return "", false
	}
	return c.Value, true
}

// csrfToken is what the page must send with every change it asks for. It is derived
// from the session's token, so it needs no server-side state (any node of a cluster
// checks it) and another site, which cannot read the cookie, cannot make it.
func csrfToken(session string) string {
	sum := sha256.Sum256([]byte("junction-console-csrf\x00" + session))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// errCSRF is a change requested with the session cookie but without the page's token.
var errCSRF = NewProblem(KindForbidden, "this request changes something and came with the console's session cookie but without its "+csrfHeader+" header: sign in again from the console, or send the token as Authorization: Bearer")

// checkCSRF lets safe methods through and requires the CSRF header on the others, as
// well as a same-origin request where the browser says where it comes from.
func checkCSRF(r *http.Request, session string) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return errCSRF
	}
	got := r.Header.Get(csrfHeader)
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(csrfToken(session))) != 1 {
		return errCSRF
	}
	return nil
}

func (s *Server) consolePage(w http.ResponseWriter, r *http.Request) error {
	return s.consoleFile(w, r, "index.html")
}

func (s *Server) consoleAsset(w http.ResponseWriter, r *http.Request) error {
	return s.consoleFile(w, r, r.PathValue("file"))
}

// consoleFile serves one embedded file. The policy lets the page load only its own
// scripts, styles and API, so an injected string can never run as code.
func (s *Server) consoleFile(w http.ResponseWriter, r *http.Request, name string) error {
	data, err := fs.ReadFile(console.Assets, path.Clean(name))
	if err != nil {
		return NewProblem(KindNotFound, "no such console file: "+name)
	}
	h := w.Header()
	switch path.Ext(name) {
	case ".html":
		h.Set("Content-Type", "text/html; charset=utf-8")
	case ".js":
		h.Set("Content-Type", "text/javascript; charset=utf-8")
	case ".css":
		h.Set("Content-Type", "text/css; charset=utf-8")
	case ".svg":
		h.Set("Content-Type", "image/svg+xml")
	}
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
	_, err = w.Write(data)
	return err
}

// sessionView is what the page learns about its session.
type sessionView struct {
	Name string `json:"name"`
	Role string `json:"role"`
	CSRF string `json:"csrf"`
}

// signInRequest is the body of POST /console/session.
type signInRequest struct {
	Token string `json:"token" openapi:"required"`
}

// signIn checks a token and keeps it in the session cookie.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request) error {
	var in signInRequest
	if err := decodeJSON(w, r, s.maxBodyBytes, &in); err != nil {
		return err
	}
	secret := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(in.Token), "Bearer "))
	if secret == "" {
		return invalid("invalid sign-in", FieldError{Field: "token", Detail: "required: an API token (junction token create)"})
	}
	tok, err := s.tokens.Authenticate(r.Context(), "Bearer "+secret)
	if err != nil {
		if errors.Is(err, auth.ErrUnauthenticated) {
			return NewProblem(KindUnauthorized, "this token is not valid: it is mistyped, revoked or from another Junction")
		}
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: secret, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil, MaxAge: int(sessionMaxAge / time.Second),
	})
	w.Header().Set("Cache-Control", "no-store")
	return writeJSON(w, http.StatusOK, sessionView{Name: tok.Name, Role: string(tok.Role), CSRF: csrfToken(secret)})
}

// signOut forgets the session cookie.
func (s *Server) signOut(w http.ResponseWriter, r *http.Request) error {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: -1})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// whoAmI tells the page who is signed in, and its CSRF token.
func (s *Server) whoAmI(w http.ResponseWriter, r *http.Request) error {
	tok, _ := tokenFrom(r.Context())
	view := sessionView{Name: tok.Name, Role: string(tok.Role)}
	if session, ok := sessionToken(r); ok && r.Header.Get("Authorization") == "" {
		view.CSRF = csrfToken(session)
	}
	return writeJSON(w, http.StatusOK, view)
}
