package transport

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// Agent label values that are not names from the tokens file. Names must
// start with a letter and may not be these, so they never collide.
const (
	agentSingle    = "token"     // the one unnamed token of --auth-token-file
	agentAnonymous = "anonymous" // no valid token: clients known by address
)

// Rules for the tokens file.
const (
	minTokenLen  = 16
	maxTokenLen  = 4096
	maxAgentName = 64
)

var agentNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)

// agentToken is one bearer token the server accepts: its owner's name ("" for
// the unnamed --auth-token-file token) and the SHA-256 of the token. The
// token itself is not kept.
type agentToken struct {
	name   string
	digest [sha256.Size]byte
}

// id is the client identity of the token's holder for limits and logs.
func (a *agentToken) id() string {
	if a.name == "" {
		return "token:" + hex.EncodeToString(a.digest[:4])
	}
	return "agent:" + a.name
}

// label is the agent label of the token's holder in metrics.
func (a *agentToken) label() string {
	if a.name == "" {
		return agentSingle
	}
	return a.name
}

// parseAgentTokens reads a tokens file: one "name:token" per line, blank
// lines and lines starting with '#' ignored. Errors name the line, never the
// token. single, when set, is the unnamed token that must not be reused.
func parseAgentTokens(r io.Reader, single *agentToken) ([]agentToken, error) {
	var agents []agentToken
	nameLine := map[string]int{}
	tokenLine := map[[sha256.Size]byte]int{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxTokenLen+maxAgentName+1024)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, token, ok := strings.Cut(line, ":")
		name, token = strings.TrimSpace(name), strings.TrimSpace(token)
		switch {
		case !ok:
			return nil, fmt.Errorf("line %d: expected name:token (e.g. planner:<a random token of at least %d characters>)", n, minTokenLen)
		case !agentNameRE.MatchString(name) || len(name) > maxAgentName:
			return nil, fmt.Errorf("line %d: the name %q is not an identifier: use letters, digits, '_' or '-', starting with a letter, at most %d characters",
				n, clip(name, maxAgentName), maxAgentName)
		case name == agentSingle || name == agentAnonymous:
			return nil, fmt.Errorf("line %d: the name %q is reserved; choose another", n, name)
		case len(token) < minTokenLen:
			return nil, fmt.Errorf("line %d: the token of %q is %d characters; use at least %d (e.g. openssl rand -hex 32)", n, name, len(token), minTokenLen)
		case len(token) > maxTokenLen:
			return nil, fmt.Errorf("line %d: the token of %q is longer than %d characters", n, name, maxTokenLen)
		case strings.ContainsFunc(token, func(r rune) bool { return r <= ' ' || r == 0x7f }):
			return nil, fmt.Errorf("line %d: the token of %q contains a space or a control character; use printable characters only", n, name)
		}
		if first, dup := nameLine[name]; dup {
			return nil, fmt.Errorf("line %d: the name %q is already given on line %d; each agent appears once", n, name, first)
		}
		d := sha256.Sum256([]byte(token))
		if first, dup := tokenLine[d]; dup {
			return nil, fmt.Errorf("line %d: %q has the same token as the agent on line %d; give each agent its own token", n, name, first)
		}
		if single != nil && single.digest == d {
			return nil, fmt.Errorf("line %d: %q has the same token as --auth-token-file; give each agent its own token", n, name)
		}
		nameLine[name], tokenLine[d] = n, n
		agents = append(agents, agentToken{name: name, digest: d})
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("line %d: longer than %d characters", n+1, maxTokenLen+maxAgentName+1024)
		}
		return nil, err
	}
	return agents, nil
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// agentBook holds the tokens the server accepts: the unnamed one and those
// of the tokens file, which it reloads when the file changes.
//
// set is swapped whole on reload (readers never lock); file and loaded are
// touched only by the goroutine that owns reloading (New, then the watcher
// started by ListenAndServe).
type agentBook struct {
	path   string // the tokens file; "" = none
	single *agentToken
	set    atomic.Pointer[[]agentToken] // single first, then the file's agents

	loaded  os.FileInfo // the file as last read (successfully or not)
	onSwap  func(removed []string)
	log     *slog.Logger
	reloads func(ok bool)
}

func newAgentBook(single string, path string, log *slog.Logger) (*agentBook, error) {
	b := &agentBook{path: path, log: log}
	if single != "" {
		b.single = &agentToken{digest: sha256.Sum256([]byte(single))}
	}
	set := b.base()
	if path != "" {
		agents, fi, err := b.read()
		if err != nil {
			return nil, err
		}
		if len(agents) == 0 {
			return nil, fmt.Errorf("auth tokens file %s holds no agent: add lines of the form name:token", path)
		}
		b.loaded = fi
		set = append(set, agents...)
		if fi.Mode().Perm()&0o077 != 0 {
			log.Warn("the auth tokens file is readable by other users; chmod 600 it", "file", path, "mode", fi.Mode().Perm().String())
		}
	}
	b.set.Store(&set)
	return b, nil
}

func (b *agentBook) base() []agentToken {
	if b.single == nil {
		return nil
	}
	return []agentToken{*b.single}
}

// enabled reports whether any token is configured (authentication is on).
func (b *agentBook) enabled() bool { return b.single != nil || b.path != "" }

// read parses the tokens file and returns its identity as read.
func (b *agentBook) read() ([]agentToken, os.FileInfo, error) {
	f, err := os.Open(b.path)
	if err != nil {
		return nil, nil, fmt.Errorf("auth tokens file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("auth tokens file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fi, fmt.Errorf("auth tokens file %s is not a regular file", b.path)
	}
	if fi.Size() > 1<<20 {
		return nil, fi, fmt.Errorf("auth tokens file %s is larger than 1 MiB", b.path)
	}
	agents, err := parseAgentTokens(io.LimitReader(f, 1<<20), b.single)
	if err != nil {
		return nil, fi, fmt.Errorf("auth tokens file %s, %w", b.path, err)
	}
	return agents, fi, nil
}

// match returns the token the Authorization header carries, comparing its
// SHA-256 with every accepted token's in constant time (all of them, so the
// time taken does not tell which one matched).
func (b *agentBook) match(header string) (*agentToken, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil, false
	}
	d := sha256.Sum256([]byte(strings.TrimSpace(token)))
	set := *b.set.Load()
	var found *agentToken
	for i := range set {
		if constantTimeCompare(d[:], set[i].digest[:]) == 1 {
			found = &set[i]
		}
	}
	return found, found != nil
}

// names lists the file's agents (not the unnamed token).
func (b *agentBook) names() []string {
	var out []string
	for _, a := range *b.set.Load() {
		if a.name != "" {
			out = append(out, a.name)
		}
	}
	return out
}

// watch reloads the tokens file whenever its identity (inode, size, mtime)
// changes, every interval, until stop closes. A file that cannot be read or
// does not validate keeps the previous set; the reason is logged once per
// change of the file.
func (b *agentBook) watch(stop <-chan struct{}, interval time.Duration) {
	if b.path == "" {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			b.reloadIfChanged()
		}
	}
}

func (b *agentBook) reloadIfChanged() {
	fi, err := os.Stat(b.path)
	if err != nil {
		if b.loaded != nil {
			b.log.Warn("cannot read the auth tokens file; keeping the agents loaded before", "file", b.path, "err", err)
			b.loaded = nil // log once; reload when it is back
			b.count(false)
		}
		return
	}
	if b.loaded != nil && os.SameFile(fi, b.loaded) && fi.Size() == b.loaded.Size() && fi.ModTime().Equal(b.loaded.ModTime()) {
		return
	}
	agents, rfi, err := b.read()
	if rfi != nil {
		b.loaded = rfi
	} else {
		b.loaded = fi
	}
	if err != nil {
		b.log.Warn("the auth tokens file changed but is not valid; keeping the agents loaded before", "err", err)
		b.count(false)
		return
	}
	before := b.names()
	set := append(b.base(), agents...)
	b.set.Store(&set)
	after := b.names()
	var added, removed []string
	for _, n := range after {
		if !slices.Contains(before, n) {
			added = append(added, n)
		}
	}
	for _, n := range before {
		if !slices.Contains(after, n) {
			removed = append(removed, n)
		}
	}
	b.count(true)
	if len(added) == 0 && len(removed) == 0 {
		b.log.Info("auth tokens file reloaded", "file", b.path, "agents", after)
	} else {
		b.log.Info("auth tokens file reloaded", "file", b.path, "agents", after, "added", added, "removed", removed)
	}
	if len(after) == 0 && b.single == nil {
		b.log.Warn("the auth tokens file holds no agent: every request is refused until one is added", "file", b.path)
	}
	if b.onSwap != nil && len(removed) > 0 {
		b.onSwap(removed)
	}
}

func (b *agentBook) count(ok bool) {
	if b.reloads != nil {
		b.reloads(ok)
	}
}

// fingerprint is the first 8 hex digits of the unnamed token's SHA-256, for logs.
func (b *agentBook) fingerprint() string {
	if b.single == nil {
		return ""
	}
	return hex.EncodeToString(b.single.digest[:4])
}
