package workspace

import (
	"os"
	"path/filepath"
	"sync"
	"time"
)

// The walk from a workspace path up to its project root costs a symlink
// resolution, a stat and up to six lstats per folder on the way; every tool
// call names its workspace, and an agent names the same few paths all day.
// A Resolver therefore remembers path → root: a remembered answer is
// confirmed with one stat of the path (the same file, unchanged, as when it
// was resolved: a folder replaced — even where its inode number is reused —
// or changed, or a symlink pointed elsewhere, is resolved again) and is
// walked again after rootCacheTTL (a marker created or removed on the way up
// is seen within that time). Refusals are not remembered: they are rare, and
// their errors are worth recomputing.
const (
	rootCacheTTL = 10 * time.Second
	// rootCacheMax bounds the memory of a server that is handed many paths
	// (each entry is a few hundred bytes); when full it is cleared.
	rootCacheMax = 4096
)

type rootCacheEntry struct {
	root, marker string
	fi           os.FileInfo // the path's target when it was resolved
	until        time.Time
}

type rootCache struct {
	mu sync.Mutex
	m  map[string]rootCacheEntry
}

// stat and now are the cache's view of the file system and the clock; the
// package's tests count the stats and move the clock.
var (
	stat = os.Stat
	now  = time.Now
)

func (c *rootCache) get(path string) (root, marker string, ok bool) {
	c.mu.Lock()
	e, found := c.m[path]
	c.mu.Unlock()
	if !found || now().After(e.until) {
		return "", "", false
	}
	fi, err := stat(path)
	if err != nil || !os.SameFile(fi, e.fi) || !fi.ModTime().Equal(e.fi.ModTime()) || fi.Mode() != e.fi.Mode() {
		return "", "", false
	}
	return e.root, e.marker, true
}

func (c *rootCache) put(path, root, marker string, fi os.FileInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= rootCacheMax {
		c.m = make(map[string]rootCacheEntry)
	}
	c.m[path] = rootCacheEntry{root: root, marker: marker, fi: fi, until: now().Add(rootCacheTTL)}
}

// cacheKey is the key a path is remembered under: absolute paths only, cleaned.
func cacheKey(path string) (string, bool) {
	if path == "" || !filepath.IsAbs(path) {
		return "", false
	}
	return filepath.Clean(path), true
}
