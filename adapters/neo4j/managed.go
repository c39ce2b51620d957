package neo4j

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	driver "github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/config"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/managed"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/progress"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

const (
	// defaultStartTimeout: Neo4j (a JVM) takes 10-20 s to accept Bolt on 2 cores.
	defaultStartTimeout = 180 * time.Second
	stopTimeout         = 30 * time.Second
	passwordFileName    = ".password"
)

// ManagedTxMemoryMax is db.memory.transaction.max of the project's own
// Neo4j: a statement that needs more memory on the server is refused there
// (a query_error) instead of building a result that would then be sent whole.
// ManagedTxMemoryEnv is how it reaches the launch command.
const (
	ManagedTxMemoryMax = "256m"
	ManagedTxMemoryEnv = "NEO4J_db_memory_transaction_max"
)

func (s *Store) passwordFile() string { return filepath.Join(s.opts.dataDir(), passwordFileName) }

// startManaged starts the project's own Neo4j: data under
// .task_orchestrator/databases/neo4j, bound to 127.0.0.1 on a free port, the
// user neo4j with a password generated for the project, supervised by
// adapters/managed (restarted if it dies, never outliving us); or, when
// another server process of the project already runs it, uses that one.
func (s *Store) startManaged(ctx context.Context) error {
	argv, err := s.opts.command()
	if err != nil {
		return &Error{Kind: KindNotConfigured, Msg: err.Error(), Err: err}
	}
	dataDir := s.opts.dataDir()
	if err := s.prepareDirs(dataDir); err != nil {
		return err
	}
	pw, err := s.projectPassword(s.passwordFile())
	if errors.Is(err, workspace.ErrUnsafeFile) {
		return &Error{Kind: KindUnavailable, Err: err, Msg: workspace.UnsafeFileMessage(err)}
	}
	if err != nil {
		return &Error{Kind: KindUnavailable, Err: err, Msg: fmt.Sprintf(
			"cannot read or create the password file of the project's Neo4j server (%v): check the permissions of %s", err, dataDir)}
	}
	s.password = pw
	startTimeout := s.opts.Backends.Neo4jStartTimeout.Duration()
	if startTimeout <= 0 {
		startTimeout = defaultStartTimeout
	}
	progress.Report(ctx, "starting the project's Neo4j server (a JVM: this takes a while)", 0, 0)
	srv, err := managed.Start(ctx, managed.Spec{
		Name:    "neo4j",
		Command: argv[0],
		Args: func(port int) []string {
			return expandArgs(argv[1:], dataDir, port, pw)
		},
		// Also in the environment (as the official Docker image's NEO4J_AUTH),
		// so a wrapper can keep it off the command line, which `ps` shows.
		// The transaction memory limit goes the same way (the Docker image's
		// NEO4J_<setting> form, which integration/neo4j/Main.java reads too).
		Env:          []string{"NEO4J_AUTH=neo4j/" + pw, ManagedTxMemoryEnv + "=" + ManagedTxMemoryMax},
		Dir:          dataDir,
		OpenFile:     s.openProjectFile,
		LogFile:      s.opts.logFile(),
		Health:       s.boltHealth,
		StartTimeout: startTimeout,
		StopTimeout:  stopTimeout,
		Logger:       s.log,
		Project:      s.opts.root(),
		Share:        s.sharing(dataDir, pw),
	})
	if err == nil && srv == nil {
		err = errors.New("managed.Start returned no server")
	}
	if err != nil {
		if ctx.Err() != nil {
			return s.fail(ctx, "starting the project's Neo4j server", err)
		}
		return &Error{Kind: KindUnavailable, Err: err, Msg: fmt.Sprintf(
			"the project's Neo4j server (%s) did not start: %s; read %s, or set NEO4J_URI to use a Neo4j server elsewhere",
			filepath.Base(argv[0]), s.clean(err.Error()), s.opts.logFile())}
	}
	s.server = srv
	progress.Report(ctx, "the project's Neo4j server is ready", 1, 1)
	s.log.Info("neo4j: the project's server is ready", "uri", s.boltURI(), "pid", srv.PID(), "owned", srv.Owned(), "data", dataDir)
	return nil
}

func (s *Store) stopManaged(ctx context.Context) error {
	if s.server == nil {
		return nil
	}
	if err := s.server.Stop(ctx); err != nil {
		return fmt.Errorf("stop the project's Neo4j server: %w", err)
	}
	return nil
}

// expandArgs fills the placeholders of backends.neo4j_command.
func expandArgs(args []string, dataDir string, port int, password string) []string {
	r := strings.NewReplacer("{data_dir}", dataDir, "{port}", strconv.Itoa(port), "{password}", password)
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = r.Replace(a)
	}
	return out
}

// projectPassword returns the password of the project's Neo4j, generating it
// (32 hex digits from crypto/rand) into path (0600) the first time. A file
// another process is writing at the same moment is read, not overwritten.
// The file is read without following links: a symlinked .password is
// refused, so it never reads (nor hands to Neo4j) a file outside the project.
func (s *Store) projectPassword(path string) (string, error) {
	read := func() (string, error) {
		f, err := s.openProjectFile(path, os.O_RDONLY, 0)
		if err != nil {
			return "", err
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, 4096))
		if err != nil {
			return "", err
		}
		_ = workspace.NarrowFile(f, 0o600)
		return strings.TrimSpace(string(b)), nil
	}
	if pw, err := read(); err == nil && pw != "" {
		return pw, nil
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	buf := make([]byte, 16)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	pw := hex.EncodeToString(buf)
	tmp, err := os.CreateTemp(filepath.Dir(path), passwordFileName+".*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return "", err
	}
	if _, err := tmp.WriteString(pw + "\n"); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	// Link, not rename: if another process created the file meanwhile, its
	// password wins and is the one read back.
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", err
	}
	return read()
}

// boltHealth is the managed server's readiness check: a Bolt connection to
// 127.0.0.1:PORT (the port of the baseURL that adapters/managed gives)
// that logs in with the project's password.
func (s *Store) boltHealth(ctx context.Context, _ *http.Client, baseURL string) error {
	uri := boltFromBase(baseURL)
	if uri == "" {
		return fmt.Errorf("no port in %q", baseURL)
	}
	d, err := driver.NewDriverWithContext(uri, driver.BasicAuth("neo4j", s.password, ""), func(c *config.Config) {
		c.MaxConnectionPoolSize = 1
		c.SocketConnectTimeout = time.Second
		c.MaxTransactionRetryTime = 0
		c.TelemetryDisabled = true
		c.UserAgent = userAgent
	})
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = d.Close(cctx)
		cancel()
	}()
	if err := d.VerifyConnectivity(ctx); err != nil {
		return errors.New(s.clean(err.Error()))
	}
	return nil
}

// prepareDirs makes the data and logs folders, refusing links (see workspace.PrepareServerDirs).
func (s *Store) prepareDirs(dataDir string) error {
	if err := workspace.PrepareServerDirs(s.opts.Layout, dataDir, "Neo4j"); err != nil {
		return &Error{Kind: KindUnavailable, Err: err, Msg: workspace.UnsafeFileMessage(err)}
	}
	return nil
}

// sharing makes the project's Neo4j one for every server process of the
// project: .task_orchestrator/databases/neo4j.lock is held by the process
// that started it, neo4j.server.json announces it (with the password) to the others.
func (s *Store) sharing(dataDir, password string) *managed.Sharing {
	l := s.opts.Layout
	return &managed.Sharing{
		LockFile:      filepath.Join(l.Databases, "neo4j.lock"),
		DiscoveryFile: filepath.Join(l.Databases, "neo4j.server.json"),
		DataDir:       dataDir,
		Secret:        password,
		Replace: func(path string, data []byte, perm fs.FileMode) error {
			return workspace.ReplaceProjectFile(l, path, data, perm)
		},
		Remove: func(path string) error { return workspace.RemoveProjectFile(l, path) },
	}
}

// openProjectFile opens a file of the project without following links (the managed server's log).
func (s *Store) openProjectFile(path string, flag int, perm fs.FileMode) (*os.File, error) {
	return workspace.OpenProjectFile(s.opts.Layout, path, flag, perm)
}
