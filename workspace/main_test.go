package workspace_test

import (
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// tempDir is t.TempDir with symlinks resolved (macOS /var -> /private/var), so
// paths compare equal to what the resolver returns.
func tempDir(t testing.TB) string {
	t.Helper()
	d, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// mkdirs creates each path (and parents) under base and returns base/path[0].
func mkdirs(t testing.TB, base string, paths ...string) string {
	t.Helper()
	for _, p := range paths {
		if err := os.MkdirAll(filepath.Join(base, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(base, paths[0])
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlink(t testing.TB, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// skipIfMarkerAbove skips a test that relies on "no marker" when some folder
// above the temp dir (outside the test's control) holds a project marker.
func skipIfMarkerAbove(t testing.TB, dir string) {
	t.Helper()
	for d := filepath.Dir(dir); filepath.Dir(d) != d; d = filepath.Dir(d) {
		for _, m := range []string{".task_orchestrator", ".git", "go.mod", "package.json", "pyproject.toml", "Cargo.toml"} {
			if _, err := os.Lstat(filepath.Join(d, m)); err == nil {
				t.Skipf("%s holds %s; cannot test the no-marker case under it", d, m)
			}
		}
	}
}

// env is a fake environment for Resolver.Env and LoadOptions.Env.
func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}
