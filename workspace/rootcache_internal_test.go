package workspace

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// cacheFixture is a project (base/proj with .git) and a folder nested in it,
// with the package's stat counted and its clock in the test's hands.
type cacheFixture struct {
	base, proj, nested string
	stats              int
	clock              time.Time
	r                  *Resolver
}

func newCacheFixture(t *testing.T) *cacheFixture {
	t.Helper()
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f := &cacheFixture{base: base, proj: filepath.Join(base, "proj"), clock: time.Unix(1_800_000_000, 0)}
	f.nested = filepath.Join(f.proj, "a", "b")
	for _, d := range []string{filepath.Join(f.proj, ".git"), f.nested, filepath.Join(base, "home")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f.r = &Resolver{Home: filepath.Join(base, "home")}
	oldStat, oldNow := stat, now
	stat = func(p string) (os.FileInfo, error) { f.stats++; return oldStat(p) }
	now = func() time.Time { return f.clock }
	t.Cleanup(func() { stat, now = oldStat, oldNow })
	return f
}

func (f *cacheFixture) root(t *testing.T, path string) string {
	t.Helper()
	root, _, err := f.r.FindRoot(path)
	if err != nil {
		t.Fatalf("FindRoot(%s): %v", path, err)
	}
	return root
}

// A remembered root costs one stat per call, and is the walk's answer until
// the TTL runs out: a marker created on the way up in the meantime is seen
// only then (which proves the remembered calls did not walk).
func TestARememberedRootCostsOneStatAndIsWalkedAgainAfterItsTTL(t *testing.T) {
	f := newCacheFixture(t)
	if got := f.root(t, f.nested); got != f.proj {
		t.Fatalf("first resolution: root %s, want %s", got, f.proj)
	}
	if err := os.Mkdir(filepath.Join(f.proj, "a", DirName), 0o755); err != nil {
		t.Fatal(err)
	}
	f.stats = 0
	for range 100 {
		if got := f.root(t, f.nested+"/"); got != f.proj {
			t.Fatalf("remembered root %s, want %s", got, f.proj)
		}
	}
	if f.stats != 100 {
		t.Errorf("100 remembered resolutions made %d stats through the cache, want 100 (one each)", f.stats)
	}
	f.clock = f.clock.Add(rootCacheTTL + time.Second)
	if got, want := f.root(t, f.nested), filepath.Join(f.proj, "a"); got != want {
		t.Errorf("after the TTL: root %s, want %s (the marker created meanwhile)", got, want)
	}
}

// A folder replaced by another of the same name, or a symlink pointed
// elsewhere, is not the file that was resolved: it is resolved again at once.
func TestARememberedRootIsDroppedWhenThePathIsAnotherFile(t *testing.T) {
	f := newCacheFixture(t)
	other := filepath.Join(f.base, "other")
	if err := os.MkdirAll(filepath.Join(other, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(f.base, "link")
	if err := os.Symlink(f.proj, link); err != nil {
		t.Fatal(err)
	}
	if got := f.root(t, link); got != f.proj {
		t.Fatalf("through the link: root %s, want %s", got, f.proj)
	}
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(other, link); err != nil {
		t.Fatal(err)
	}
	if got := f.root(t, link); got != other {
		t.Errorf("after the link was pointed elsewhere: root %s, want %s", got, other)
	}

	if got := f.root(t, f.nested); got != f.proj {
		t.Fatalf("nested: root %s, want %s", got, f.proj)
	}
	if err := os.RemoveAll(filepath.Join(f.proj, "a")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.r.FindRoot(f.nested); err == nil {
		t.Fatal("a removed folder still resolved from the cache")
	}
	if err := os.MkdirAll(filepath.Join(f.nested, DirName), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := f.root(t, f.nested); got != f.nested {
		t.Errorf("the folder recreated with its own marker: root %s, want %s", got, f.nested)
	}
}
