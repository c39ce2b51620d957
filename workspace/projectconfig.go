package workspace

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// DefaultProjectConfigsSize is how many projects' outcomes ProjectConfigs
// remembers when NewProjectConfigs is given no size.
const DefaultProjectConfigsSize = 256

// ProjectConfigs validates each project's config file once and remembers the
// outcome, failures included, keyed by the file's identity (device, inode,
// size, modification time, mode). A lookup whose file has not changed costs
// one lstat and returns the remembered configuration or the very same error
// value, so a project with a hostile config costs about a stat per call; a
// changed file is validated again at its next lookup, which happens when the
// project's pools are next opened (open pools keep the configuration they
// were created with). It is safe for concurrent use.
type ProjectConfigs struct {
	base Config
	size int

	mu      sync.Mutex // guards entries and clock; never held while a file is read
	entries map[string]*projectConfigEntry
	clock   uint64
}

// projectConfigEntry is one project's remembered outcome.
type projectConfigEntry struct {
	id   fileIdentity
	cfg  Config
	file string
	err  error
	used uint64 // clock at the last lookup: the least recently used entry is evicted first
}

// NewProjectConfigs returns a cache that overlays project files on base,
// remembering at most size projects (0 = DefaultProjectConfigsSize).
func NewProjectConfigs(base Config, size int) *ProjectConfigs {
	if size <= 0 {
		size = DefaultProjectConfigsSize
	}
	return &ProjectConfigs{base: base, size: size, entries: map[string]*projectConfigEntry{}}
}

// Get is ApplyProject(base, layout), validated only when the file changed
// since the last Get for this project.
func (p *ProjectConfigs) Get(layout Layout) (Config, string, error) {
	path := filepath.Join(layout.Configs, ConfigFileName)
	fi, err := os.Lstat(path)
	var id fileIdentity
	switch {
	case err == nil:
		id = identityOf(fi)
	case errors.Is(err, fs.ErrNotExist):
		id = fileIdentity{absent: true}
	default:
		// The folder itself is unreadable: nothing to key on, so nothing is
		// remembered (the layout checks report such folders first).
		return ApplyProject(p.base, layout)
	}
	if e, ok := p.lookup(path, id); ok {
		return e.cfg.clone(), e.file, e.err
	}

	e := &projectConfigEntry{id: id}
	switch {
	case id.absent:
		e.cfg, e.err = p.base, p.base.Validate()
	case fi.Mode().IsRegular():
		var ofi fs.FileInfo
		e.cfg, e.file, ofi, e.err = applyProject(p.base, path)
		if ofi != nil {
			e.id = identityOf(ofi) // what was read, should the file have changed since the lstat
		} else if e.file == "" {
			e.id = fileIdentity{absent: true} // removed since the lstat
		}
	default:
		// Refused on its lstat alone: a FIFO or a device is never opened.
		e.file, e.err = path, refusedFile(refuseMode(fi.Mode()))
	}
	p.store(path, e)
	return e.cfg.clone(), e.file, e.err
}

func (p *ProjectConfigs) lookup(path string, id fileIdentity) (*projectConfigEntry, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.entries[path]
	if !ok || e.id != id {
		return nil, false
	}
	p.clock++
	e.used = p.clock
	return e, true
}

func (p *ProjectConfigs) store(path string, e *projectConfigEntry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.entries[path]; !ok && len(p.entries) >= p.size {
		var oldest string
		for k, v := range p.entries {
			if oldest == "" || v.used < p.entries[oldest].used {
				oldest = k
			}
		}
		delete(p.entries, oldest)
	}
	p.clock++
	e.used = p.clock
	p.entries[path] = e
}

// Len reports how many projects' outcomes are remembered.
func (p *ProjectConfigs) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.entries)
}
