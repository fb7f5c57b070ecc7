package tlsservers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// The users of a cluster StartPostgres makes, one per way of authenticating; both
// connect only with TLS (pg_hba hostssl), to the database "postgres".
const (
	// PostgresTrustUser needs only a TLS connection: the server's certificate is all the
	// TLS there is (hostssl … trust).
	PostgresTrustUser = "postgres"
	// PostgresCertUser must present a client certificate signed by Certs.CA whose CN is
	// the user name (hostssl … cert): ClientCN, the CN of Certs.ClientCert.
	PostgresCertUser = ClientCN
)

// PostgresBinDirEnv names a directory holding initdb and pg_ctl, when they are not in
// /usr/lib/postgresql/*/bin or on PATH.
const PostgresBinDirEnv = "JUNCTION_TEST_PG_BINDIR"

// Postgres is a throwaway PostgreSQL cluster that accepts TCP connections only with TLS.
type Postgres struct {
	Addr string // 127.0.0.1:port
}

// URL is a postgres:// URL of the cluster's database "postgres" as user, without
// sslmode or any other parameter: the caller adds those.
func (p *Postgres) URL(user string) string {
	return (&url.URL{Scheme: "postgres", User: url.User(user), Host: p.Addr, Path: "/postgres"}).String()
}

// StartPostgres creates a cluster in a temporary directory (initdb), configures TLS with
// certs' server certificate and CA, starts it on a free port of 127.0.0.1 and stops and
// removes it when tb ends. As root it runs the server as user postgres (PostgreSQL
// refuses root). It takes a few seconds: share one per package.
func StartPostgres(tb testing.TB, certs *Certs) *Postgres {
	tb.Helper()
	bin, err := postgresBinDir()
	if err != nil {
		Missing(tb, "PostgreSQL's initdb and pg_ctl", err)
	}
	as, err := postgresRunner()
	if err != nil {
		Missing(tb, "the user postgres to run PostgreSQL as", err)
	}
	base, err := os.MkdirTemp("", "junction-pg-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = os.RemoveAll(base) })
	data := filepath.Join(base, "data")
	port := FreePort(tb)
	if err := preparePostgres(as, bin, base, data, port, certs); err != nil {
		tb.Fatalf("tlsservers: PostgreSQL: %v", err)
	}
	logFile := filepath.Join(base, "postgres.log")
	if err := run(as.command(filepath.Join(bin, "pg_ctl"), "start", "-w", "-t", "60", "-D", data, "-l", logFile)); err != nil {
		log, _ := os.ReadFile(logFile)
		tb.Fatalf("tlsservers: start PostgreSQL: %v\n%s", err, log)
	}
	tb.Cleanup(func() {
		if err := run(as.command(filepath.Join(bin, "pg_ctl"), "stop", "-w", "-m", "immediate", "-D", data)); err != nil {
			tb.Errorf("tlsservers: stop PostgreSQL: %v", err)
		}
	})
	if err := createCertUser(base, port); err != nil {
		tb.Fatalf("tlsservers: PostgreSQL: %v", err)
	}
	return &Postgres{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
}

// postgresBinDir finds initdb and pg_ctl: PostgresBinDirEnv, the newest
// /usr/lib/postgresql/N/bin (Debian), or PATH.
func postgresBinDir() (string, error) {
	dirs := []string{}
	if d := os.Getenv(PostgresBinDirEnv); d != "" {
		dirs = append(dirs, d)
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(found, func(a, b string) int { return versionOf(b) - versionOf(a) })
	dirs = append(dirs, found...)
	if p, err := exec.LookPath("initdb"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
				return d, nil
			}
		}
	}
	return "", fmt.Errorf("initdb and pg_ctl not found in $%s, /usr/lib/postgresql/*/bin or PATH", PostgresBinDirEnv)
}

func versionOf(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// runner runs PostgreSQL's programs: as the current user, or as root through runuser
// as user postgres, whose files it owns.
type runner struct {
	user     string // "" is the current user
	uid, gid int
}

func postgresRunner() (runner, error) {
	if os.Geteuid() != 0 {
		return runner{}, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return runner{}, err
	}
	if _, err := exec.LookPath("runuser"); err != nil {
		return runner{}, err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return runner{user: "postgres", uid: uid, gid: gid}, nil
}

func (r runner) command(name string, args ...string) *exec.Cmd {
	if r.user == "" {
		return exec.Command(name, args...)
	}
	return exec.Command("runuser", append([]string{"-u", r.user, "--", name}, args...)...)
}

// own gives a file or directory to the user the server runs as.
func (r runner) own(path string) error {
	if r.user == "" {
		return nil
	}
	return os.Chown(path, r.uid, r.gid)
}

// preparePostgres runs initdb and writes the TLS files, postgresql.conf and pg_hba.conf.
func preparePostgres(as runner, bin, base, data string, port int, certs *Certs) error {
	if err := as.own(base); err != nil {
		return err
	}
	// -N: no fsync of the new cluster; it lives for one test run.
	if err := run(as.command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "-N")); err != nil {
		return err
	}
	// The server reads its key only when it is private to it (0600, its own).
	for _, f := range [][2]string{{certs.ServerCert, "server.crt"}, {certs.ServerKey, "server.key"}, {certs.CAFile, "root.crt"}} {
		if err := copyFile(as, f[0], filepath.Join(data, f[1])); err != nil {
			return err
		}
	}
	conf := fmt.Sprintf(`
listen_addresses = '127.0.0.1'
port = %d
unix_socket_directories = '%s'
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
ssl_ca_file = 'root.crt'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 40
`, port, base)
	if err := appendFile(filepath.Join(data, "postgresql.conf"), conf); err != nil {
		return err
	}
	// Over TCP only TLS is accepted: trust for one user, a client certificate for the
	// other. The Unix socket (in base, private) lets StartPostgres create that user.
	hba := fmt.Sprintf(`local all all trust
hostssl all %s 127.0.0.1/32 trust
hostssl all %s 127.0.0.1/32 cert
`, PostgresTrustUser, PostgresCertUser)
	return os.WriteFile(filepath.Join(data, "pg_hba.conf"), []byte(hba), 0o600)
}

func copyFile(as runner, from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		return err
	}
	return as.own(to)
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(text)
	return errors.Join(err, f.Close())
}

// createCertUser creates PostgresCertUser over the Unix socket. It is a superuser so
// tests may create tables wherever they like in this throwaway cluster.
func createCertUser(socketDir string, port int) error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	dsn := fmt.Sprintf("host=%s port=%d user=postgres dbname=postgres sslmode=disable", socketDir, port)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connect over the Unix socket: %w", err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	_, err = conn.Exec(ctx, "CREATE ROLE "+pgx.Identifier{PostgresCertUser}.Sanitize()+" LOGIN SUPERUSER")
	if err != nil && !strings.Contains(err.Error(), "already exists") {
		return fmt.Errorf("create role %s: %w", PostgresCertUser, err)
	}
	return nil
}
