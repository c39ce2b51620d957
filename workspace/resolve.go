package workspace

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
)

// EnvWorkspace names the environment variable that picks the project when
// neither the tool argument nor the client's roots do.
const EnvWorkspace = "TASK_ORCHESTRATOR_WORKSPACE"

// markers, in the order they are looked for in each folder: the first folder
// (walking up) holding any of them is the project root.
var markers = [...]string{DirName, ".git", "go.mod", "package.json", "pyproject.toml", "Cargo.toml"}

// Source says where a workspace path came from.
type Source string

// The sources, in the order Resolve consults them.
const (
	SourceArgument Source = "argument" // the tool's "workspace" argument
	SourceRoots    Source = "roots"    // the client's first file:// MCP root
	SourceEnv      Source = "env"      // $TASK_ORCHESTRATOR_WORKSPACE
	SourceCwd      Source = "cwd"      // the server's working directory
)

func (s Source) describe() string {
	switch s {
	case SourceArgument:
		return `the "workspace" argument`
	case SourceRoots:
		return "the client's MCP roots"
	case SourceEnv:
		return EnvWorkspace
	case SourceCwd:
		return "the server's working directory"
	}
	return string(s)
}

// Root is a resolved project root.
type Root struct {
	Path   string // absolute, symlinks resolved
	Source Source // where the starting path came from
	Marker string // the marker file or folder that decided it; "" if none was found
}

// Errors from root resolution; test with errors.Is. The concrete error is a
// *RootError that names the path and says what to do.
var (
	// ErrBadPath: the path is empty, relative, missing, unreadable, or a
	// device, FIFO or socket.
	ErrBadPath = errors.New("bad workspace path")
	// ErrRefusedRoot: the root would be /, the user's home directory or
	// (without --allow-root) a system folder such as /etc or /dev.
	ErrRefusedRoot = errors.New("refused workspace root")
	// ErrOutsideAllowedRoots: the root is outside every --allow-root tree.
	ErrOutsideAllowedRoots = errors.New("workspace outside the allowed roots")
)

// RootError explains why a path cannot be a workspace.
type RootError struct {
	Kind   error  // ErrBadPath, ErrRefusedRoot or ErrOutsideAllowedRoots
	Path   string // the offending path
	Reason string // what is wrong with it
	Hint   string // what to do
	Err    error  // underlying cause, if any (e.g. fs.ErrNotExist)
}

func (e *RootError) Error() string {
	return fmt.Sprintf("%v: %q %s; %s", e.Kind, e.Path, e.Reason, e.Hint)
}

// Unwrap lets errors.Is match both Kind and the underlying cause.
func (e *RootError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

const hintProjectFolder = `pass a project folder (any path inside your project) as the "workspace" argument, or set ` + EnvWorkspace

// Resolver turns a candidate path into a project root. The zero value is
// ready to use and reads the real environment.
type Resolver struct {
	Env        func(string) string // nil = os.Getenv
	Cwd        string              // "" = os.Getwd()
	Home       string              // "" = os.UserHomeDir()
	AllowRoots []string            // empty = every tree allowed
	Logger     *slog.Logger        // nil = slog.Default(); gets a debug line per skipped MCP root

	cache rootCache // path → root, see rootcache.go; a Resolver is used by pointer
}

// Resolve picks the starting path in the spec's order — arg if non-empty,
// else the first usable file:// URI of rootURIs, else $TASK_ORCHESTRATOR_WORKSPACE,
// else the working directory — and finds its project root with FindRoot.
// arg may be an absolute path or a file:// URI. Roots that are not local
// file:// URIs are skipped. Errors say which source the path came from.
func (r *Resolver) Resolve(arg string, rootURIs []string) (Root, error) {
	path, src, err := r.candidate(arg, rootURIs)
	if err == nil {
		var root, marker string
		root, marker, err = r.FindRoot(path)
		if err == nil {
			return Root{Path: root, Source: src, Marker: marker}, nil
		}
	}
	return Root{}, fmt.Errorf("workspace from %s: %w", src.describe(), err)
}

func (r *Resolver) candidate(arg string, rootURIs []string) (string, Source, error) {
	if arg != "" {
		if hasFileScheme(arg) {
			p, err := FileURIPath(arg)
			return p, SourceArgument, err
		}
		return arg, SourceArgument, nil
	}
	for _, u := range rootURIs {
		p, err := FileURIPath(u)
		if err == nil {
			return p, SourceRoots, nil
		}
		r.logger().Debug("skipping MCP root", "uri", u, "reason", err)
	}
	getenv := r.Env
	if getenv == nil {
		getenv = os.Getenv
	}
	if p := getenv(EnvWorkspace); p != "" {
		return p, SourceEnv, nil
	}
	if r.Cwd != "" {
		return r.Cwd, SourceCwd, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", SourceCwd, &RootError{Kind: ErrBadPath, Path: ".", Reason: "cannot be determined", Hint: hintProjectFolder, Err: err}
	}
	return wd, SourceCwd, nil
}

func (r *Resolver) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}

func hasFileScheme(s string) bool { return len(s) >= 5 && strings.EqualFold(s[:5], "file:") }

// FileURIPath returns the local path named by a file:// URI (RFC 8089),
// percent-decoded. It rejects other schemes, hosts other than "" and
// "localhost", and relative or empty paths.
func FileURIPath(uri string) (string, error) {
	bad := func(reason string) error {
		return &RootError{Kind: ErrBadPath, Path: uri, Reason: reason, Hint: "use a file:///absolute/path URI or a plain absolute path"}
	}
	u, err := url.Parse(uri)
	if err != nil {
		return "", bad("is not a valid URI")
	}
	if u.Scheme != "file" {
		return "", bad("is not a file:// URI")
	}
	if u.Host != "" && !strings.EqualFold(u.Host, "localhost") {
		return "", bad("names a remote host (" + u.Host + ")")
	}
	if u.Opaque != "" || u.Path == "" {
		return "", bad("has no absolute path")
	}
	p := u.Path
	if strings.ContainsRune(p, 0) {
		return "", bad("contains a NUL byte")
	}
	if runtime.GOOS == "windows" && len(p) >= 3 && p[0] == '/' && p[2] == ':' {
		p = p[1:] // file:///C:/x -> C:/x
	}
	return filepath.FromSlash(p), nil
}

// FindRoot returns the project root for path (absolute; a file inside the
// project is fine) and the marker that decided it ("" if none). It resolves
// symlinks, walks up to the first folder holding .task_orchestrator, .git,
// go.mod, package.json, pyproject.toml or Cargo.toml, and falls back to the
// path itself. The walk never looks at / or the home directory: a stray
// ~/.git (a dotfiles repository) must not make every folder under home one
// project. It refuses / and home as roots, and roots outside AllowRoots;
// without AllowRoots (stdio with no --allow-root) it also refuses system
// folders (see isSystemFolder). A device, FIFO or socket is refused as a path.
func (r *Resolver) FindRoot(path string) (root, marker string, err error) {
	key, cacheable := cacheKey(path)
	if cacheable {
		if root, marker, ok := r.cache.get(key); ok {
			return root, marker, nil
		}
	}
	root, marker, fi, err := r.findRoot(path)
	if err == nil && cacheable {
		r.cache.put(key, root, marker, fi)
	}
	return root, marker, err
}

// findRoot is FindRoot's walk; fi is the stat of the path's target.
func (r *Resolver) findRoot(path string) (root, marker string, fi os.FileInfo, err error) {
	if path == "" {
		return "", "", nil, &RootError{Kind: ErrBadPath, Path: path, Reason: "is empty", Hint: hintProjectFolder}
	}
	if !filepath.IsAbs(path) {
		return "", "", nil, &RootError{Kind: ErrBadPath, Path: path, Reason: "is relative", Hint: "give an absolute path to a folder inside your project"}
	}
	p, err := filepath.EvalSymlinks(filepath.Clean(path))
	if err != nil {
		reason := "cannot be resolved"
		if errors.Is(err, fs.ErrNotExist) {
			reason = "does not exist"
		}
		return "", "", nil, &RootError{Kind: ErrBadPath, Path: path, Reason: reason, Hint: "give the absolute path of an existing folder inside your project", Err: err}
	}
	fi, err = os.Stat(p)
	if err != nil {
		return "", "", nil, &RootError{Kind: ErrBadPath, Path: path, Reason: "cannot be read", Hint: "check the folder's permissions", Err: err}
	}
	if kind := specialFileKind(fi.Mode()); kind != "" {
		// A device, FIFO or socket is never part of a project; its folder
		// (/dev, /run, a temp folder) is not one either.
		return "", "", nil, &RootError{Kind: ErrBadPath, Path: path, Reason: "is " + kind + ", not a folder or file of a project", Hint: hintProjectFolder}
	}
	if !fi.IsDir() {
		p = filepath.Dir(p)
	}
	home := r.home()

	root = p
	for dir := p; dir != home && !isVolumeRoot(dir); dir = filepath.Dir(dir) {
		if m := markerIn(dir); m != "" {
			root, marker = dir, m
			break
		}
	}

	switch {
	case isVolumeRoot(root):
		return "", "", nil, &RootError{Kind: ErrRefusedRoot, Path: root, Reason: "is the file system root, not a project", Hint: hintProjectFolder}
	case home != "" && root == home:
		return "", "", nil, &RootError{Kind: ErrRefusedRoot, Path: root, Reason: "is your home directory, not a project", Hint: hintProjectFolder}
	case len(r.AllowRoots) == 0 && isSystemFolder(root, marker):
		return "", "", nil, &RootError{Kind: ErrRefusedRoot, Path: root, Reason: "is a system folder, not a project", Hint: hintProjectFolder}
	}
	if len(r.AllowRoots) > 0 && !r.allowed(root) {
		return "", "", nil, &RootError{Kind: ErrOutsideAllowedRoots, Path: root, Reason: "is outside every --allow-root tree (" + strings.Join(r.AllowRoots, ", ") + ")",
			Hint: "use a project inside one of them, or add --allow-root for this tree when starting the server"}
	}
	return root, marker, fi, nil
}

// home returns the symlink-resolved home directory, or "" if unknown.
func (r *Resolver) home() string {
	h := r.Home
	if h == "" {
		var err error
		if h, err = os.UserHomeDir(); err != nil || h == "" {
			return ""
		}
	}
	return resolvedOrClean(h)
}

func (r *Resolver) allowed(root string) bool {
	for _, a := range r.AllowRoots {
		if a == "" {
			continue
		}
		if abs, err := filepath.Abs(a); err == nil {
			a = abs
		}
		if within(root, resolvedOrClean(a)) {
			return true
		}
	}
	return false
}

// resolvedOrClean resolves symlinks in p, or just cleans it if that fails
// (a missing path still compares sensibly).
func resolvedOrClean(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return filepath.Clean(p)
}

// within reports whether p is dir or inside it, comparing whole path
// components: /a/bc is not within /a/b. Both must be clean and absolute.
func within(p, dir string) bool {
	if p == dir {
		return true
	}
	prefix := strings.TrimSuffix(dir, string(filepath.Separator)) + string(filepath.Separator)
	return strings.HasPrefix(p, prefix)
}

func isVolumeRoot(dir string) bool { return filepath.Dir(dir) == dir }

func markerIn(dir string) string {
	for _, m := range markers {
		if _, err := os.Lstat(filepath.Join(dir, m)); err == nil {
			return m
		}
	}
	return ""
}

// System folders refused as project roots when no --allow-root says which
// trees are served (stdio): a project there would put .task_orchestrator/
// among the system's files (workspace "/dev/null" made /dev/.task_orchestrator).
var (
	// systemTrees are refused with everything under them, marker or not:
	// nothing in them is anyone's project. Names starting with "lib" are
	// matched by prefix (/lib, /lib32, /lib64, /libx32, /usr/lib64 …).
	systemTrees = []string{"/etc", "/dev", "/proc", "/sys", "/bin", "/sbin", "/lib", "/boot", "/usr/bin", "/usr/sbin", "/usr/lib"}
	// systemFolders are refused themselves.
	systemFolders = []string{"/", "/usr", "/var", "/var/lib", "/var/log", "/var/cache", "/var/spool", "/var/run", "/run"}
	// markerlessTrees: below these a root is refused when no project marker
	// decided it (/usr/share/doc, /var/log/nginx), while /usr/local/src/app
	// with its .git, or a CI checkout under /var/lib/jenkins, is a project.
	// (/var itself is not here: macOS keeps temp folders in /private/var/folders.)
	markerlessTrees = []string{"/usr", "/var/lib", "/var/log", "/var/cache", "/var/spool", "/var/run", "/run"}
	// markerlessOK are trees under markerlessTrees where a folder without a
	// marker is still a user's: FreeBSD's /home is /usr/home.
	markerlessOK = []string{"/usr/home"}
)

// systemPaths is the lists above with, for each symlinked entry (merged
// /usr: /bin -> usr/bin; /var/run -> /run; macOS /etc -> /private/etc), its
// target too, since roots are compared after symlinks are resolved.
type systemPaths struct{ trees, folders, markerless, markerlessOK []string }

var resolvedSystemPaths = sync.OnceValue(func() systemPaths {
	expand := func(list []string) []string {
		var out []string
		for _, p := range list {
			out = append(out, p)
			if r, err := filepath.EvalSymlinks(p); err == nil && r != p {
				out = append(out, r)
			}
		}
		return out
	}
	return systemPaths{expand(systemTrees), expand(systemFolders), expand(markerlessTrees), expand(markerlessOK)}
})

// isSystemFolder reports whether root (clean, absolute, symlinks resolved)
// is a system folder that must not be a project root; marker is the project
// marker that decided root ("" if none).
func isSystemFolder(root, marker string) bool {
	if runtime.GOOS == "windows" {
		return false
	}
	sys := resolvedSystemPaths()
	for _, t := range sys.trees {
		if within(root, t) || libPrefixed(root, t) {
			return true
		}
	}
	if slices.Contains(sys.folders, root) {
		return true
	}
	if marker != "" || slices.ContainsFunc(sys.markerlessOK, func(ok string) bool { return within(root, ok) }) {
		return false
	}
	return slices.ContainsFunc(sys.markerless, func(t string) bool { return within(root, t) })
}

// libPrefixed reports whether root is in a sibling of lib whose name starts
// with its base name: /lib64/x for lib = /lib, /usr/libexec for /usr/lib.
func libPrefixed(root, lib string) bool {
	if filepath.Base(lib) != "lib" {
		return false
	}
	parent := filepath.Dir(lib)
	rel, err := filepath.Rel(parent, root)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return false
	}
	first, _, _ := strings.Cut(rel, string(filepath.Separator))
	return strings.HasPrefix(first, "lib")
}

// specialFileKind names a device, FIFO or socket ("" for a file, a folder or a link).
func specialFileKind(m fs.FileMode) string {
	if m.IsRegular() || m.IsDir() || m&fs.ModeSymlink != 0 {
		return ""
	}
	return fileKind(m)
}
