package chroma

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	v2 "github.com/amikos-tech/chroma-go/pkg/api/v2"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/managed"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/pooling"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

const (
	defaultAcquireTimeout = 30 * time.Second
	// maxDialTimeout bounds a TCP connect, so a server that is gone fails a
	// call in seconds even when pool_timeout is long.
	maxDialTimeout = 5 * time.Second
	// maxHeartbeatTimeout bounds one heartbeat (the pool's Open and Ping).
	maxHeartbeatTimeout = 5 * time.Second
	defaultIdleConn     = 90 * time.Second
	// fallbackBatch is used when the server's pre-flight check gives no max_batch_size.
	fallbackBatch = 1000
)

// Store is one project's vector store on a Chroma server. It is safe for
// concurrent use.
//
// Requests go through one keep-alive http.Transport (the TCP connections) and
// a pool of request slots (managed.Slots) that bounds how many requests
// are in flight, pings the server (heartbeat) and trips a circuit breaker
// when it stops answering. A slot holds no connection of its own, only the
// chroma-go client of the current server address, so nothing is pooled twice.
type Store struct {
	opts      Options
	log       *slog.Logger
	mode      Mode
	tenant    string
	database  string
	remoteURL string          // remote mode; may hold userinfo: show only through sanitizeURL
	server    *managed.Server // managed mode
	provider  *provider       // nil: no embedding provider configured

	transport *http.Transport
	hc        *http.Client
	pool      *pooling.Pool[*client] // a slot: the client of the address it was opened on

	// fresh, when set (the benchmarks' baseline), replaces the pool: every
	// call builds its own transport and client and drops them afterwards.
	fresh bool

	mu       sync.Mutex // guards the fields below; never held during I/O
	cur      *client    // the client of the current server address
	dbReady  bool       // remote: the project's database exists
	maxBatch int        // the server's max_batch_size (0: not asked yet)

	dbMu sync.Mutex // serializes creating the project's database

	background sync.WaitGroup // goroutines the store started (loading the default ONNX model)
	closeOnce  sync.Once
	closeErr   error
}

// client is a chroma-go client for one server address, with the collections
// it has opened (so a call does not look its collection up every time).
type client struct {
	base string
	api  *v2.APIClientV2

	mu    sync.Mutex
	colls map[string]*coll // guarded by mu
}

// coll is an opened collection and the embedding settings recorded in its metadata.
type coll struct {
	h         v2.Collection
	embedding string // caller | lexical-v1 | hash (retired, refused) | openai:MODEL | ollama:MODEL | default:MODEL | unknown
	dims      int    // 0: not known yet
	space     string
}

var errStaleClient = errors.New("the Chroma server moved to a new address")

// Open prepares the project's vector store. Remote mode contacts nothing yet
// (the project's database is created on first use); managed mode starts the
// project's Chroma server and waits for its heartbeat, reporting progress.
func Open(ctx context.Context, opts Options) (*Store, error) {
	s := &Store{opts: opts, log: opts.Logger}
	if s.log == nil {
		s.log = slog.Default()
	}
	if !opts.Settings.IsEnabled() {
		return nil, &Error{Kind: KindNotConfigured, Msg: "vector search is turned off for this project " +
			"(database_pools.vector.enabled is false in its .task_orchestrator/configs/config.json)"}
	}
	mode, reason := Resolve(opts)
	s.mode = mode
	switch mode {
	case ModeNone:
		return nil, &Error{Kind: KindNotConfigured, Msg: reason}
	case ModeRemote:
		raw := strings.TrimRight(strings.TrimSpace(opts.Backends.ChromaURL), "/")
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, &Error{Kind: KindNotConfigured, Field: "CHROMA_URL", Msg: fmt.Sprintf(
				"CHROMA_URL %q is not an http(s) URL such as http://chroma.internal:8000: fix it in the environment or the global config",
				sanitizeURL(raw))}
		}
		s.remoteURL, s.tenant, s.database = raw, opts.tenant(), DatabaseName(opts.root())
	case ModeManaged:
		s.tenant, s.database = DefaultTenant, managedDatabase
	}
	s.provider = newProvider(opts.Embeddings)
	s.transport = s.newTransport()
	s.hc = &http.Client{Transport: limitedTransport{rt: s.transport, max: s.maxResponseBytes()}, Timeout: s.acquireTimeout()}

	if mode == ModeManaged {
		if err := s.startManaged(ctx); err != nil {
			s.transport.CloseIdleConnections()
			return nil, err
		}
	}
	pool, err := pooling.New(s.poolConfig(), s.slots().Hooks())
	if err != nil {
		s.stopManaged(context.WithoutCancel(ctx))
		s.transport.CloseIdleConnections()
		return nil, &Error{Kind: KindInvalid, Field: "database_pools.vector", Err: err,
			Msg: "the vector pool configuration is not valid: " + err.Error()}
	}
	s.pool = pool
	return s, nil
}

func (s *Store) acquireTimeout() time.Duration {
	if d := s.opts.Settings.PoolTimeout.Duration(); d > 0 {
		return d
	}
	return defaultAcquireTimeout
}

func (s *Store) breakerThreshold() int {
	if s.opts.Breaker > 0 {
		return s.opts.Breaker
	}
	return 5 // the pool's default
}

// newTransport is the store's keep-alive transport: as many connections to
// the server as the pool has request slots (more would never be used), a
// short dial timeout, idle connections closed after idle_timeout.
func (s *Store) newTransport() *http.Transport {
	st := s.opts.Settings
	conns := max(st.MaxConnections, 1) + max(st.MaxOverflow, 0)
	dial := min(maxDialTimeout, s.acquireTimeout())
	idle := st.IdleTimeout.Duration()
	if idle <= 0 {
		idle = defaultIdleConn
	}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: dial, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          conns,
		MaxIdleConnsPerHost:   conns,
		MaxConnsPerHost:       conns,
		IdleConnTimeout:       idle,
		TLSHandshakeTimeout:   2 * dial,
		ExpectContinueTimeout: time.Second,
	}
}

func (s *Store) poolConfig() pooling.Config {
	cfg := s.opts.Settings.PoolConfig()
	cfg.Name, cfg.Backend, cfg.Workspace = workspace.DatabaseChroma, workspace.BackendVector, s.opts.Workspace
	cfg.AcquireTimeout = s.acquireTimeout()
	cfg.ResetOnReturn = false // slots hold no state to reset
	cfg.BreakerThreshold, cfg.BreakerCooldown, cfg.Logger = s.opts.Breaker, s.opts.cooldown(), s.log
	cfg.OnBreaker = s.opts.OnBreaker
	return cfg
}

// slots: opening a slot proves the server alive (heartbeat), so a server
// that is down trips the breaker; pre-ping is the heartbeat too, and a slot
// of an old address (a managed server restarted on a new port) is replaced.
func (s *Store) slots() managed.Slots[*client] {
	return managed.Slots[*client]{
		Server:   s.server,
		Current:  s.client,
		Check:    s.heartbeat,
		Stale:    func(c *client) bool { return c.base != s.baseURL() },
		ErrStale: errStaleClient,
	}
}

func (s *Store) heartbeat(ctx context.Context, c *client) error {
	hctx, cancel := context.WithTimeout(ctx, min(maxHeartbeatTimeout, s.acquireTimeout()))
	defer cancel()
	if err := c.api.Heartbeat(hctx); err != nil {
		if status, msg, ok := chromaStatus(err); ok {
			if status == 0 {
				return fmt.Errorf("heartbeat: %s", s.clean(msg))
			}
			return fmt.Errorf("heartbeat: HTTP %d: %s", status, s.clean(msg))
		}
		return fmt.Errorf("heartbeat: %s", s.clean(err.Error()))
	}
	return nil
}

// baseURL is where the server is now (a managed server may move to a new
// port when it is restarted).
func (s *Store) baseURL() string {
	if s.server != nil {
		return s.server.BaseURL()
	}
	return s.remoteURL
}

// client returns the client for the current server address, building a new
// one when the address changed.
func (s *Store) client() (*client, error) {
	base := s.baseURL()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil && s.cur.base == base {
		return s.cur, nil
	}
	c, err := s.newClient(base, s.hc)
	if err != nil {
		return nil, err
	}
	if s.cur != nil {
		s.log.Info("chroma: the server moved; using a new client", "url", sanitizeURL(base))
		s.transport.CloseIdleConnections()
		s.maxBatch = 0
	}
	s.cur = c
	return c, nil
}

func (s *Store) newClient(base string, hc *http.Client) (*client, error) {
	opts := []v2.ClientOption{
		v2.WithBaseURL(base),
		v2.WithHTTPClient(hc),
		v2.WithDatabaseAndTenant(s.database, s.tenant),
	}
	if tok := s.opts.Backends.ChromaToken.Reveal(); tok != "" && s.mode == ModeRemote {
		opts = append(opts, v2.WithAuth(v2.NewTokenAuthCredentialsProvider(tok, v2.AuthorizationTokenHeader)))
	}
	cl, err := v2.NewHTTPClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("chroma client for %s: %s", sanitizeURL(base), s.clean(err.Error()))
	}
	api, ok := cl.(*v2.APIClientV2)
	if !ok {
		return nil, fmt.Errorf("chroma client for %s: unexpected client type %T", sanitizeURL(base), cl)
	}
	return &client{base: base, api: api, colls: map[string]*coll{}}, nil
}

// with runs fn with a request slot and the client it holds, after making
// sure the project's database exists. A slot whose request got no answer is
// discarded, so the next call proves the server alive first.
func (s *Store) with(ctx context.Context, fn func(c *client) error) error {
	if s.fresh {
		return s.withFresh(ctx, fn)
	}
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return s.poolError(err)
	}
	c := pc.Value()
	err = s.ensureDatabase(ctx, c)
	if err == nil {
		err = fn(c)
	}
	if ctx.Err() == nil && unreachable(err) {
		pc.Discard()
	} else {
		pc.Release()
	}
	return err
}

// withFresh is with for the benchmarks' baseline: a new transport and client per call.
func (s *Store) withFresh(ctx context.Context, fn func(c *client) error) error {
	tr := s.newTransport()
	defer tr.CloseIdleConnections()
	c, err := s.newClient(s.baseURL(), &http.Client{Transport: limitedTransport{rt: tr, max: s.maxResponseBytes()}, Timeout: s.acquireTimeout()})
	if err != nil {
		return err
	}
	if err := s.ensureDatabase(ctx, c); err != nil {
		return err
	}
	return fn(c)
}

// request runs one HTTP exchange with its own deadline (pool_timeout) and
// turns a failure into an *Error; what says what was being done.
func (s *Store) request(ctx context.Context, what string, fn func(ctx context.Context) error) error {
	rctx, cancel := context.WithTimeout(ctx, s.acquireTimeout())
	defer cancel()
	rctx, over := withOverLimit(rctx)
	err := fn(rctx)
	if err != nil && over.tripped.Load() {
		return s.tooLarge(what)
	}
	return s.fail(ctx, what, err)
}

// ensureDatabase creates the project's database on a shared server the first
// time it is needed (Chroma has no get-or-create for databases).
func (s *Store) ensureDatabase(ctx context.Context, c *client) error {
	if s.mode != ModeRemote {
		return nil
	}
	s.mu.Lock()
	ready := s.dbReady
	s.mu.Unlock()
	if ready {
		return nil
	}
	s.dbMu.Lock()
	defer s.dbMu.Unlock()
	s.mu.Lock()
	ready = s.dbReady
	s.mu.Unlock()
	if ready {
		return nil
	}
	db := v2.NewDatabase(s.database, v2.NewTenant(s.tenant))
	err := s.request(ctx, "looking up the project's database", func(ctx context.Context) error {
		_, err := c.api.GetDatabase(ctx, db)
		return err
	})
	if IsKind(err, KindNotFound) {
		var status int
		err = s.request(ctx, "creating the project's database", func(ctx context.Context) error {
			_, err := c.api.CreateDatabase(ctx, db)
			status, _, _ = chromaStatus(err)
			if status == http.StatusConflict {
				return nil // created by a concurrent caller (another process)
			}
			return err
		})
		if err == nil {
			s.log.Info("chroma: created the project's database", "database", s.database, "tenant", s.tenant)
		}
	}
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.dbReady = true
	s.mu.Unlock()
	return nil
}

// forgetDatabase makes the next call check the database again (it vanished).
func (s *Store) forgetDatabase(err error) {
	if s.mode != ModeRemote {
		return
	}
	if _, msg, ok := chromaStatus(err); ok && strings.Contains(strings.ToLower(msg), "database") {
		s.mu.Lock()
		s.dbReady = false
		s.mu.Unlock()
	}
}

// knownBatchSize is the cached max_batch_size (0: not asked yet).
func (s *Store) knownBatchSize() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxBatch
}

// batchSize is the server's max_batch_size from its pre-flight check, asked
// once per server address.
func (s *Store) batchSize(ctx context.Context, c *client) (int, error) {
	if n := s.knownBatchSize(); n > 0 {
		return n, nil
	}
	var body []byte
	err := s.request(ctx, "reading the server's limits (pre-flight check)", func(ctx context.Context) error {
		var err error
		body, err = c.api.ExecuteRequest(ctx, http.MethodGet, "pre-flight-checks", nil)
		return err
	})
	if err != nil {
		return 0, err
	}
	var pf struct {
		MaxBatchSize int `json:"max_batch_size"`
	}
	if json.Unmarshal(body, &pf) != nil || pf.MaxBatchSize <= 0 {
		pf.MaxBatchSize = fallbackBatch
	}
	n := pf.MaxBatchSize
	if s.opts.maxBatch > 0 && s.opts.maxBatch < n {
		n = s.opts.maxBatch
	}
	s.mu.Lock()
	if s.cur == c {
		s.maxBatch = n
	}
	s.mu.Unlock()
	return n, nil
}

// PoolMetrics returns the metrics of the store's one pool ("chroma").
func (s *Store) PoolMetrics() []pooling.Metrics {
	return []pooling.Metrics{s.pool.Metrics()}
}

// Info describes how the store reaches Chroma (no secrets).
func (s *Store) Info() Info {
	in := Info{Mode: s.mode, URL: sanitizeURL(s.baseURL())}
	switch s.mode {
	case ModeRemote:
		in.Database = s.database
	case ModeManaged:
		in.DataDir = s.opts.dataDir()
		if s.server != nil {
			in.PID = s.server.PID()
		}
	}
	return in
}

// Close closes the pool (waiting, until ctx is done, for calls in flight),
// the transport's idle connections and, in managed mode, stops the project's
// server. Idempotent.
func (s *Store) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		var errs []error
		if err := s.pool.Close(ctx); err != nil {
			errs = append(errs, err)
		}
		s.transport.CloseIdleConnections()
		if err := s.stopManaged(ctx); err != nil {
			errs = append(errs, err)
		}
		if err := s.stopLocal(ctx); err != nil {
			errs = append(errs, err)
		}
		done := make(chan struct{})
		go func() { s.background.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("gave up waiting for the default embedding model to finish loading: %w", ctx.Err()))
		}
		if len(errs) > 0 {
			s.closeErr = fmt.Errorf("chroma: close the vector store of %s: %w", s.opts.Workspace, errors.Join(errs...))
		}
	})
	return s.closeErr
}
