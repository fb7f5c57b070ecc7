package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/junctionhq/junction/internal/auth"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/backend"
)

// TokenOptions configure the `junction token` commands. They act as auth.Operator, the
// person who holds the database, through the same token service as the HTTP API, so the
// token rules are the same for both.
type TokenOptions struct {
	DatabaseURL string // see backend.Open; empty means SQLite junction.db
	Stdout      io.Writer
}

// TokenCreate creates a token and prints its secret, alone on a line: the only time it
// is shown.
func TokenCreate(ctx context.Context, o TokenOptions, role, name string) error {
	return withTokens(ctx, o, func(tokens *auth.Service) error {
		secret, _, err := tokens.Create(ctx, auth.Operator, auth.Role(role), name)
		if v, ok := errors.AsType[*auth.ValidationError](err); ok {
			return flagErrors(v, role)
		}
		if err != nil {
			return err
		}
		fmt.Fprintln(o.Stdout, secret)
		return nil
	})
}

// flagErrors says what is wrong with a token request in terms of the command's flags.
func flagErrors(v *auth.ValidationError, role string) error {
	msgs := make([]string, len(v.Fields))
	for i, f := range v.Fields {
		msgs[i] = fmt.Sprintf("--%s: %s", f.Field, f.Detail)
		if f.Field == "role" {
			msgs[i] = fmt.Sprintf("--role: expected admin or user, found %q", role)
		}
	}
	return errors.New(strings.Join(msgs, "; "))
}

// TokenList prints every token, revoked ones included, never a secret. A SQLite database
// that does not exist is refused, not created: listing an empty new one would hide the
// tokens of the database the user meant.
func TokenList(ctx context.Context, o TokenOptions) error {
	if err := backend.RequireExisting(o.DatabaseURL); err != nil {
		return err
	}
	return withTokens(ctx, o, func(tokens *auth.Service) error {
		toks, err := tokens.List(ctx, auth.Operator)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(o.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tROLE\tNAME\tCREATED\tREVOKED")
		for _, t := range toks {
			revoked := "-"
			if t.RevokedAt != nil {
				revoked = t.RevokedAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.ID, t.Role, dash(t.Name), t.CreatedAt.UTC().Format(time.RFC3339), revoked)
		}
		return tw.Flush()
	})
}

// TokenRevoke revokes a token by its ID. Like TokenList it refuses a SQLite database
// that does not exist: a new one holds no token to revoke.
func TokenRevoke(ctx context.Context, o TokenOptions, id string) error {
	if err := backend.RequireExisting(o.DatabaseURL); err != nil {
		return err
	}
	return withTokens(ctx, o, func(tokens *auth.Service) error {
		err := tokens.Revoke(ctx, auth.Operator, id)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no token has ID %q (see 'junction token list')", id)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(o.Stdout, "revoked %s\n", id)
		return nil
	})
}

// withTokens opens the storage, applies pending migrations (so the token commands work
// on a fresh database before the first `serve`) and hands fn the token service on it.
func withTokens(ctx context.Context, o TokenOptions, fn func(*auth.Service) error) error {
	st, err := backend.Open(ctx, o.DatabaseURL)
	if err != nil {
		return fmt.Errorf("open storage %s: %w", backend.Describe(o.DatabaseURL), err)
	}
	defer st.Close()
	if _, err := st.MigrateUp(ctx); err != nil {
		return fmt.Errorf("migrate storage: %w", err)
	}
	return fn(auth.NewService(st, time.Now))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
