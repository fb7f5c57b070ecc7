package config

import (
	"fmt"
	"strings"
)

// auth reads every form of the auth setting:
//
//	auth: bearer(env(TOKEN))                    auth bearer { token: "$TOKEN" }
//	auth: api_key(env(KEY), "appid")            auth apikey { header: "Authorization" value: "Bearer $KEY" }
//	auth: basic(env(USER), env(PASS))           auth basic { username: "$U" password: "$P" }
//	auth: aws_signature_v4 { access_key: … }    auth: oauth2 { token_url: … }    auth: hmac { secret: … }
func (d *decoder) auth(e *Entry) *Auth {
	ph := d.words(e.Value)
	ws := ph.Words
	if len(ph.Modifiers) == 0 {
		switch {
		case len(ws) == 1:
			switch n := ws[0].(type) {
			case *Call:
				return d.authCall(e, n)
			case *Object:
				// YAML's shape for a typed block: auth: { aws_signature_v4: { … } }
				if len(n.Entries) == 1 {
					inner := n.Entries[0]
					if _, entries, ok := d.object(inner); ok {
						return d.authBlock(inner.KeyPos, inner.Key, entries)
					}
					return nil
				}
			}
		case len(ws) == 2:
			id, okID := ws[0].(*Ident)
			obj, okObj := ws[1].(*Object)
			if okID && okObj {
				return d.authBlock(id.P, id.Name, obj.Entries)
			}
		}
	}
	d.expect(e, "bearer(…), api_key(…, \"name\"), basic(…, …) or a block such as aws_signature_v4 { … }")
	return nil
}

var authKinds = "bearer, api_key, basic, oauth2, aws_signature_v4 or hmac"

func normalizeAuthKind(k string) AuthKind {
	switch k {
	case "apikey", "api-key":
		return AuthAPIKey
	case "aws_sigv4", "sigv4":
		return AuthAWSSigV4
	}
	return AuthKind(k)
}

func (d *decoder) authCall(e *Entry, c *Call) *Auth {
	a := &Auth{Pos: c.P, Kind: normalizeAuthKind(c.Name)}
	switch a.Kind {
	case AuthBearer:
		if !d.authArgCount(c, 1, 1) {
			return nil
		}
		a.Token, _ = d.authArg(c, 0, "the token")
	case AuthAPIKey:
		if !d.authArgCount(c, 2, 3) || !d.apiKeyArgs(a, c) {
			return nil
		}
	case AuthBasic:
		if !d.authArgCount(c, 2, 2) {
			return nil
		}
		a.Username, _ = d.authArg(c, 0, "the user name")
		a.Password, _ = d.authArg(c, 1, "the password")
	default:
		d.rep.errorf(c.P, "auth: expected %s, found %s(…)", authKinds, c.Name)
		return nil
	}
	d.checkSecrets(a)
	return a
}

// authArgCount checks that an auth call has from lo to hi arguments.
func (d *decoder) authArgCount(c *Call, lo, hi int) bool {
	if len(c.Args) < lo || len(c.Args) > hi {
		d.rep.errorf(c.P, "%s(…) takes %s, found %d", c.Name, argCount(lo, hi), len(c.Args))
		return false
	}
	return true
}

// authArg reads argument i of an auth call, a value (what names it in messages).
func (d *decoder) authArg(c *Call, i int, what string) (Value, bool) {
	if i >= len(c.Args) || c.Args[i].Single() == nil {
		d.rep.errorf(c.P, "%s(…): expected %s as argument %d", c.Name, what, i+1)
		return Value{}, false
	}
	return d.valueOf("auth", c.Args[i].Single())
}

// apiKeyArgs reads the arguments of api_key(KEY, "Name"[, header|query]).
func (d *decoder) apiKeyArgs(a *Auth, c *Call) bool {
	a.Key, _ = d.authArg(c, 0, "the key")
	name, ok := c.Args[1].Single().(*String)
	if !ok {
		d.rep.errorf(c.Args[1].Pos, `api_key(…): expected the header or query parameter name as a string, such as "X-API-Key" or "appid"`)
		return false
	}
	a.KeyName, a.KeyIn = name.Value, keyPlacement(name.Value)
	if len(c.Args) == 3 {
		in, ok := c.Args[2].Single().(*Ident)
		if !ok || (in.Name != KeyInHeader && in.Name != KeyInQuery) {
			d.rep.errorf(c.Args[2].Pos, "api_key(…): expected header or query as the third argument")
			return false
		}
		a.KeyIn = in.Name
	}
	return true
}

func argCount(lo, hi int) string {
	if lo == hi {
		return fmt.Sprintf("%d argument%s", lo, map[bool]string{true: "", false: "s"}[lo == 1])
	}
	return fmt.Sprintf("%d to %d arguments", lo, hi)
}

// keyPlacement decides where an API key goes when not said: names that look like header
// names (an upper-case letter or a '-': X-API-Key, Authorization) are headers, others
// (appid, api_key) query parameters.
func keyPlacement(name string) string {
	if strings.ContainsAny(name, "-ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
		return KeyInHeader
	}
	return KeyInQuery
}

func (d *decoder) authBlock(p Pos, kind string, entries []*Entry) *Auth {
	a := &Auth{Pos: p, Kind: normalizeAuthKind(kind)}
	val := func(dst *Value) setting {
		return func(e *Entry) { *dst, _ = d.value(e) }
	}
	var settings map[string]setting
	switch a.Kind {
	case AuthBearer:
		settings = map[string]setting{"token": val(&a.Token)}
	case AuthAPIKey:
		settings = map[string]setting{
			"value": val(&a.Key),
			"key":   val(&a.Key),
			"header": func(e *Entry) {
				a.KeyName, _ = d.str(e)
				a.KeyIn = KeyInHeader
			},
			"query": func(e *Entry) {
				a.KeyName, _ = d.str(e)
				a.KeyIn = KeyInQuery
			},
			"name": func(e *Entry) {
				a.KeyName, _ = d.str(e)
				if a.KeyIn == "" {
					a.KeyIn = keyPlacement(a.KeyName)
				}
			},
			"in": func(e *Entry) {
				in, ok := d.name(e, "header or query")
				if ok && in != KeyInHeader && in != KeyInQuery {
					d.expect(e, "header or query")
					return
				}
				a.KeyIn = in
			},
		}
	case AuthBasic:
		settings = map[string]setting{"username": val(&a.Username), "password": val(&a.Password)}
	case AuthOAuth2:
		settings = map[string]setting{
			"token_url": val(&a.TokenURL), "client_id": val(&a.ClientID), "client_secret": val(&a.ClientSecret),
			"scopes": func(e *Entry) { a.Scopes = d.stringList(e) },
		}
	case AuthAWSSigV4:
		settings = map[string]setting{
			"access_key": val(&a.AccessKey), "secret_key": val(&a.SecretKey),
			"session_token": val(&a.SessionToken), "region": val(&a.Region),
			"service": func(e *Entry) { a.Service, _ = d.name(e, `a service name such as "s3"`) },
		}
	case AuthHMAC:
		settings = map[string]setting{
			"secret": val(&a.Secret),
			"header": func(e *Entry) { a.Header, _ = d.str(e) },
			"algorithm": func(e *Entry) {
				a.Algorithm, _ = d.name(e, "sha256 or sha512")
				if a.Algorithm != "sha256" && a.Algorithm != "sha512" {
					d.expect(e, "sha256 or sha512")
				}
			},
		}
	default:
		d.rep.errorf(p, "auth: expected %s, found %s", authKinds, kind)
		return nil
	}
	d.block("auth "+kind, entries, settings)
	d.requireAuthFields(a)
	d.checkSecrets(a)
	return a
}

// requireAuthFields reports the settings an auth block cannot do without.
func (d *decoder) requireAuthFields(a *Auth) {
	var missing []string
	need := func(v Value, name string) {
		if v.IsZero() {
			missing = append(missing, name)
		}
	}
	switch a.Kind {
	case AuthBearer:
		need(a.Token, "token")
	case AuthAPIKey:
		need(a.Key, "value")
		if a.KeyName == "" {
			missing = append(missing, "header (or query)")
		}
	case AuthBasic:
		need(a.Username, "username")
		need(a.Password, "password")
	case AuthOAuth2:
		need(a.TokenURL, "token_url")
		need(a.ClientID, "client_id")
		need(a.ClientSecret, "client_secret")
	case AuthAWSSigV4:
		need(a.AccessKey, "access_key")
		need(a.SecretKey, "secret_key")
		need(a.Region, "region")
		if a.Service == "" {
			missing = append(missing, "service")
		}
	case AuthHMAC:
		need(a.Secret, "secret")
		if a.Header == "" {
			missing = append(missing, "header")
		}
		if a.Algorithm == "" {
			a.Algorithm = "sha256"
		}
	}
	if len(missing) > 0 {
		d.rep.errorf(a.Pos, "auth %s: missing %s", a.Kind, strings.Join(missing, ", "))
	}
}

// checkSecrets rejects secrets written into the file: they must come from env(NAME) or
// file(PATH), so configuration can be shared and committed.
func (d *decoder) checkSecrets(a *Auth) {
	for _, s := range []struct {
		name string
		v    Value
	}{{"token", a.Token}, {"key", a.Key}, {"password", a.Password}, {"client_secret", a.ClientSecret}, {"secret_key", a.SecretKey}, {"session_token", a.SessionToken}, {"secret", a.Secret}} {
		if !s.v.IsZero() && s.v.WrittenInFile() {
			d.rep.errorf(s.v.Pos, "auth %s: secrets must come from env(NAME), \"$NAME\" or file(\"path\"), not be written in the file%s", s.name, defaultNote(s.v))
		}
	}
}

func (d *decoder) stringList(e *Entry) []string {
	items, ok := d.list(e, `a list of strings such as ["read", "write"]`)
	if !ok {
		return nil
	}
	var out []string
	for _, it := range items {
		switch n := it.Single().(type) {
		case *String:
			out = append(out, n.Value)
		case *Ident:
			out = append(out, n.Name)
		default:
			d.rep.errorf(it.Pos, "%s: expected a string, found %s", e.Key, phraseText(it))
		}
	}
	return out
}
