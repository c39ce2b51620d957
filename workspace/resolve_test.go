package workspace_test

import (
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

func fileURI(p string) string { return (&url.URL{Scheme: "file", Path: filepath.ToSlash(p)}).String() }

// project creates base/name holding a .git marker and returns its path.
func project(t testing.TB, base, name string) string {
	t.Helper()
	p := filepath.Join(base, name)
	mkdirs(t, p, ".git")
	return p
}

func TestResolveEachSourceWinsWhenTheEarlierOnesAreAbsent(t *testing.T) {
	base := tempDir(t)
	arg, roots, fromEnv, cwd := project(t, base, "arg"), project(t, base, "roots"), project(t, base, "env"), project(t, base, "cwd")
	home := mkdirs(t, base, "home")
	withEnv := &workspace.Resolver{Env: env(map[string]string{workspace.EnvWorkspace: fromEnv}), Cwd: cwd, Home: home}
	noEnv := &workspace.Resolver{Env: env(nil), Cwd: cwd, Home: home}

	tests := []struct {
		name  string
		r     *workspace.Resolver
		arg   string
		roots []string
		want  workspace.Root
	}{
		{"argument beats roots, env and cwd", withEnv, arg, []string{fileURI(roots)}, workspace.Root{Path: arg, Source: workspace.SourceArgument, Marker: ".git"}},
		{"roots when no argument", withEnv, "", []string{fileURI(roots)}, workspace.Root{Path: roots, Source: workspace.SourceRoots, Marker: ".git"}},
		{"env when no usable root", withEnv, "", []string{"https://example.com/x"}, workspace.Root{Path: fromEnv, Source: workspace.SourceEnv, Marker: ".git"}},
		{"cwd when nothing else", noEnv, "", nil, workspace.Root{Path: cwd, Source: workspace.SourceCwd, Marker: ".git"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.r.Resolve(tt.arg, tt.roots)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("Resolve = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestResolveWalksUpFromNestedSubfolderOrFileToTheSameRoot(t *testing.T) {
	for _, marker := range []string{".task_orchestrator", ".git", "go.mod", "package.json", "pyproject.toml", "Cargo.toml"} {
		t.Run(marker, func(t *testing.T) {
			base := tempDir(t)
			proj := filepath.Join(base, "proj")
			nested := mkdirs(t, proj, "a/b/c")
			writeFile(t, filepath.Join(proj, marker), "")
			writeFile(t, filepath.Join(nested, "notes.txt"), "x")
			r := &workspace.Resolver{Env: env(nil), Home: filepath.Join(base, "home")}
			for _, start := range []string{proj, nested, filepath.Join(nested, "notes.txt"), nested + "/../c/./"} {
				got, err := r.Resolve(start, nil)
				if err != nil {
					t.Fatal(err)
				}
				if got.Path != proj || got.Marker != marker {
					t.Fatalf("Resolve(%s) = %+v, want root %s with marker %s", start, got, proj, marker)
				}
			}
		})
	}
}

func TestFindRootStopsAtTheNearestMarker(t *testing.T) {
	base := tempDir(t)
	outer := project(t, base, "mono")
	inner := filepath.Join(outer, "services", "api")
	writeFile(t, filepath.Join(inner, "go.mod"), "module api\n")
	r := &workspace.Resolver{Home: filepath.Join(base, "home")}
	root, marker, err := r.FindRoot(filepath.Join(mkdirs(t, inner, "internal/db")))
	if err != nil {
		t.Fatal(err)
	}
	if root != inner || marker != "go.mod" {
		t.Fatalf("FindRoot = %s (%s), want %s (go.mod)", root, marker, inner)
	}
}

func TestFindRootWithoutMarkerUsesThePathItself(t *testing.T) {
	base := tempDir(t)
	skipIfMarkerAbove(t, base)
	dir := mkdirs(t, base, "plain/sub")
	r := &workspace.Resolver{Home: filepath.Join(base, "home")}
	root, marker, err := r.FindRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	if root != dir || marker != "" {
		t.Fatalf("FindRoot = %s (%q), want %s with no marker", root, marker, dir)
	}
}

func TestResolveThroughASymlinkGivesTheSameRoot(t *testing.T) {
	base := tempDir(t)
	proj := project(t, base, "real-proj")
	mkdirs(t, proj, "src")
	symlink(t, proj, filepath.Join(base, "link"))
	r := &workspace.Resolver{Home: filepath.Join(base, "home")}

	direct, err := r.Resolve(filepath.Join(proj, "src"), nil)
	if err != nil {
		t.Fatal(err)
	}
	viaLink, err := r.Resolve(filepath.Join(base, "link", "src"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if direct.Path != proj || viaLink.Path != proj {
		t.Fatalf("direct %s, via link %s; want both %s", direct.Path, viaLink.Path, proj)
	}
}

func TestFindRootRefusesTheFileSystemRoot(t *testing.T) {
	r := &workspace.Resolver{Home: tempDir(t)}
	_, _, err := r.FindRoot("/")
	if !errors.Is(err, workspace.ErrRefusedRoot) {
		t.Fatalf("FindRoot(/) error = %v, want ErrRefusedRoot", err)
	}
	if !strings.Contains(err.Error(), "pass a project folder") {
		t.Fatalf("error %q does not tell the user what to do", err)
	}
}

func TestFindRootRefusesTheHomeDirectory(t *testing.T) {
	base := tempDir(t)
	home := mkdirs(t, base, "home/user")
	symlink(t, home, filepath.Join(base, "home-link"))

	for _, tt := range []struct{ name, resolverHome, path string }{
		{"home itself", home, home},
		{"home given as a symlink", filepath.Join(base, "home-link"), home},
		{"path through a symlink to home", home, filepath.Join(base, "home-link")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := &workspace.Resolver{Home: tt.resolverHome}
			_, _, err := r.FindRoot(tt.path)
			if !errors.Is(err, workspace.ErrRefusedRoot) {
				t.Fatalf("FindRoot error = %v, want ErrRefusedRoot", err)
			}
			if msg := err.Error(); !strings.Contains(msg, home) || !strings.Contains(msg, "home directory") || !strings.Contains(msg, "pass a project folder") {
				t.Fatalf("error %q should name %s, say it is the home directory and what to do", msg, home)
			}
		})
	}
	if _, err := os.Lstat(filepath.Join(home, workspace.DirName)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("refusing home created %s in it", workspace.DirName)
	}
}

func TestFindRootIgnoresAMarkerInHomeSoFoldersUnderHomeStayApart(t *testing.T) {
	// A dotfiles repository (~/.git) must not make home the root of every folder under it.
	base := tempDir(t)
	home := project(t, base, "home")
	notes := mkdirs(t, home, "notes/2024")
	r := &workspace.Resolver{Home: home}
	root, marker, err := r.FindRoot(notes)
	if err != nil {
		t.Fatal(err)
	}
	if root != notes || marker != "" {
		t.Fatalf("FindRoot = %s (%q), want %s with no marker", root, marker, notes)
	}
}

func TestFindRootAllowRootsComparesWholePathComponents(t *testing.T) {
	base := tempDir(t)
	ab := project(t, base, "a/b")
	abc := project(t, base, "a/bc")
	symlink(t, ab, filepath.Join(base, "ab-link"))
	home := filepath.Join(base, "home")

	for _, allow := range []string{ab, ab + "/", filepath.Join(base, "ab-link")} {
		r := &workspace.Resolver{Home: home, AllowRoots: []string{allow}}
		if root, _, err := r.FindRoot(mkdirs(t, ab, "x")); err != nil || root != ab {
			t.Fatalf("allow %s: FindRoot(a/b/x) = %s, %v; want %s", allow, root, err, ab)
		}
		_, _, err := r.FindRoot(abc)
		if !errors.Is(err, workspace.ErrOutsideAllowedRoots) {
			t.Fatalf("allow %s: FindRoot(a/bc) error = %v, want ErrOutsideAllowedRoots", allow, err)
		}
		if !strings.Contains(err.Error(), abc) || !strings.Contains(err.Error(), "--allow-root") {
			t.Fatalf("error %q should name the path and the flag", err)
		}
	}
	r := &workspace.Resolver{Home: home, AllowRoots: []string{filepath.Join(base, "nowhere"), filepath.Join(base, "a")}}
	if _, _, err := r.FindRoot(abc); err != nil {
		t.Fatalf("second allow root should admit a/bc: %v", err)
	}
}

func TestFindRootRejectsBadPaths(t *testing.T) {
	base := tempDir(t)
	r := &workspace.Resolver{Home: filepath.Join(base, "home")}
	missing := filepath.Join(base, "no", "such", "dir")
	for _, tt := range []struct {
		path, wantMsg string
		wantCause     error
	}{
		{"relative/path", "give an absolute path", nil},
		{"", "is empty", nil},
		{missing, "does not exist", fs.ErrNotExist},
	} {
		_, _, err := r.FindRoot(tt.path)
		if !errors.Is(err, workspace.ErrBadPath) {
			t.Fatalf("FindRoot(%q) error = %v, want ErrBadPath", tt.path, err)
		}
		if tt.wantCause != nil && !errors.Is(err, tt.wantCause) {
			t.Fatalf("FindRoot(%q) error = %v, want it to wrap %v", tt.path, err, tt.wantCause)
		}
		if !strings.Contains(err.Error(), tt.wantMsg) || !strings.Contains(err.Error(), tt.path) {
			t.Fatalf("FindRoot(%q) error %q should name the path and say %q", tt.path, err, tt.wantMsg)
		}
	}
}

func TestResolveDecodesFileURIs(t *testing.T) {
	base := tempDir(t)
	encoded := project(t, base, "my project 100% done")
	literal := project(t, base, "with space")
	r := &workspace.Resolver{Env: env(nil), Home: filepath.Join(base, "home")}
	for _, tt := range []struct{ uri, want string }{
		{fileURI(encoded), encoded},
		{"file://" + literal, literal},
		{"file://localhost" + filepath.ToSlash(literal), literal},
		{"FILE://LOCALHOST" + filepath.ToSlash(literal), literal},
	} {
		got, err := r.Resolve("", []string{tt.uri})
		if err != nil {
			t.Fatalf("Resolve(roots=%s): %v", tt.uri, err)
		}
		if got.Path != tt.want || got.Source != workspace.SourceRoots {
			t.Fatalf("Resolve(roots=%s) = %+v, want %s from roots", tt.uri, got, tt.want)
		}
	}
	if !strings.Contains(fileURI(encoded), "%25") || !strings.Contains(fileURI(encoded), "%20") {
		t.Fatalf("test URI %s is not percent-encoded", fileURI(encoded))
	}
}

func TestResolveSkipsRootsThatAreNotLocalFiles(t *testing.T) {
	base := tempDir(t)
	good := project(t, base, "good")
	fromEnv := project(t, base, "env")
	r := &workspace.Resolver{Env: env(map[string]string{workspace.EnvWorkspace: fromEnv}), Home: filepath.Join(base, "home")}
	bad := []string{"https://example.com/repo", "file://build-server/srv/repo", "file:relative/path", "file://", "%zz not a uri", "/plain/path/is/not/a/uri"}

	got, err := r.Resolve("", append(bad, fileURI(good)))
	if err != nil {
		t.Fatal(err)
	}
	if got.Path != good || got.Source != workspace.SourceRoots {
		t.Fatalf("Resolve = %+v, want %s from roots", got, good)
	}
	got, err = r.Resolve("", bad)
	if err != nil {
		t.Fatal(err)
	}
	if got.Path != fromEnv || got.Source != workspace.SourceEnv {
		t.Fatalf("with no usable root Resolve = %+v, want %s from env", got, fromEnv)
	}
}

func TestResolveAcceptsAFileURIAsTheArgument(t *testing.T) {
	base := tempDir(t)
	proj := project(t, base, "p q")
	r := &workspace.Resolver{Home: filepath.Join(base, "home")}
	got, err := r.Resolve(fileURI(proj), nil)
	if err != nil || got.Path != proj || got.Source != workspace.SourceArgument {
		t.Fatalf("Resolve(%s) = %+v, %v; want %s from argument", fileURI(proj), got, err, proj)
	}
	if _, err := r.Resolve("file://elsewhere/x", nil); !errors.Is(err, workspace.ErrBadPath) {
		t.Fatalf("remote file URI argument: error = %v, want ErrBadPath", err)
	}
}

func TestResolveErrorSaysWhereThePathCameFrom(t *testing.T) {
	r := &workspace.Resolver{Env: env(map[string]string{workspace.EnvWorkspace: "projects/mine"}), Home: tempDir(t)}
	_, err := r.Resolve("", nil)
	if !errors.Is(err, workspace.ErrBadPath) {
		t.Fatalf("error = %v, want ErrBadPath", err)
	}
	for _, want := range []string{workspace.EnvWorkspace, "projects/mine", "give an absolute path"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not mention %q", err, want)
		}
	}
}

func BenchmarkFindRootFromNestedFolder(b *testing.B) {
	base := tempDir(b)
	proj := project(b, base, "proj")
	nested := mkdirs(b, proj, "a/b/c/d")
	r := &workspace.Resolver{Home: filepath.Join(base, "home")}
	for b.Loop() {
		if _, _, err := r.FindRoot(nested); err != nil {
			b.Fatal(err)
		}
	}
}

// Without --allow-root (stdio), system folders are not projects: the folder
// itself, anything under the trees nothing of a user lives in, a folder
// reached through a symlink, and a device whose folder would become the root
// (workspace "/dev/null" made /dev/.task_orchestrator).
func TestFindRootRefusesSystemFoldersWithoutAllowRoot(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("POSIX system folders")
	}
	link := filepath.Join(tempDir(t), "etc-link")
	symlink(t, "/etc", link)
	paths := []string{"/etc", "/etc/ssl", "/usr", "/usr/bin", "/usr/share", "/var", "/var/log", "/var/lib", "/var/cache",
		"/dev", "/proc", "/proc/self", "/sys", "/bin", "/sbin", link, filepath.Join(link, "hostname")}
	libs, _ := filepath.Glob("/lib*")
	paths = append(paths, libs...)
	if _, err := os.Stat("/boot"); err == nil {
		paths = append(paths, "/boot")
	}
	r := &workspace.Resolver{Home: filepath.Join(tempDir(t), "home")}
	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			if _, err := os.Stat(p); err != nil {
				t.Skipf("%s: %v", p, err)
			}
			root, _, err := r.FindRoot(p)
			if !errors.Is(err, workspace.ErrRefusedRoot) {
				t.Fatalf("FindRoot(%s) = %q, %v; want ErrRefusedRoot", p, root, err)
			}
			if msg := err.Error(); !strings.Contains(msg, "is a system folder, not a project") || !strings.Contains(msg, "pass a project folder") {
				t.Fatalf("error %q should say it is a system folder and what to do", msg)
			}
		})
	}
}

// --allow-root is the user's own choice of trees: within it system folders
// are not second-guessed (the refusal is for stdio with no --allow-root).
func TestFindRootAllowsASystemFolderInsideAnAllowRoot(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("POSIX system folders")
	}
	if _, err := os.Stat("/usr/share"); err != nil {
		t.Skip("no /usr/share")
	}
	r := &workspace.Resolver{AllowRoots: []string{"/usr/share"}}
	if root, _, err := r.FindRoot("/usr/share"); err != nil || root != resolved(t, "/usr/share") {
		t.Fatalf("with --allow-root /usr/share: FindRoot = %q, %v", root, err)
	}
}

func resolved(t testing.TB, p string) string {
	t.Helper()
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
