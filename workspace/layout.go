package workspace

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// DirName is the per-project data folder, created in the project root.
const DirName = ".task_orchestrator"

// dirPerm is the mode of every folder under DirName: the data is the user's alone.
const dirPerm fs.FileMode = 0o700

// ErrBadLayout: the project's .task_orchestrator folder (or one of its
// subfolders) is missing, a symlink, not a folder, too open or not ours.
var ErrBadLayout = errors.New("unusable .task_orchestrator folder")

// Layout is where a project's data lives. All paths are absolute when Root is.
type Layout struct {
	Root      string // the project root
	Dir       string // Root/.task_orchestrator
	Databases string // Dir/databases: tasks.db, and the managed servers' data
	Artifacts string // Dir/artifacts/<task id>/<name>
	Configs   string // Dir/configs/config.json: the (untrusted) project config
	Logs      string // Dir/logs: managed servers' logs
}

// LayoutFor computes the layout of root without touching the disk.
func LayoutFor(root string) Layout {
	dir := filepath.Join(root, DirName)
	return Layout{
		Root:      root,
		Dir:       dir,
		Databases: filepath.Join(dir, "databases"),
		Artifacts: filepath.Join(dir, "artifacts"),
		Configs:   filepath.Join(dir, "configs"),
		Logs:      filepath.Join(dir, "logs"),
	}
}

// dirs lists the folders in creation order (parents first).
func (l Layout) dirs() []string {
	return []string{l.Dir, l.Databases, l.Artifacts, l.Configs, l.Logs}
}

// Ensure creates root's .task_orchestrator folder and its four subfolders
// with mode 0700 where missing, then validates them. root must be an
// existing folder. Existing folders are left as they are (Validate judges
// them). Creation goes through an os.Root on the project and the data folder
// is validated before anything is made inside it, so a symlinked
// .task_orchestrator never leads to folders being created or chmodded
// elsewhere. Last, what killed writers left in artifacts is removed
// (RemoveStaleTemps).
func Ensure(root string) (Layout, error) {
	l := LayoutFor(root)
	fi, err := os.Stat(root)
	if err != nil {
		return l, fmt.Errorf("%w: project root %s: %w", ErrBadLayout, root, err)
	}
	if !fi.IsDir() {
		return l, fmt.Errorf("%w: project root %s is not a folder", ErrBadLayout, root)
	}
	proj, err := os.OpenRoot(root)
	if err != nil {
		return l, fmt.Errorf("%w: open project root %s: %w", ErrBadLayout, root, err)
	}
	defer proj.Close()
	if err := ensureDir(proj, DirName, l.Dir); err != nil {
		return l, err
	}
	if err := validateDir(l.Dir); err != nil {
		return l, err
	}
	for _, d := range l.dirs()[1:] {
		if err := ensureDir(proj, filepath.Join(DirName, filepath.Base(d)), d); err != nil {
			return l, err
		}
	}
	if err := l.Validate(); err != nil {
		return l, err
	}
	// A writer killed mid-write (SIGKILL) leaves its temporary file behind;
	// a failure here only leaves some for the next time.
	_, _ = RemoveStaleTemps(l, StaleTempAge)
	return l, nil
}

// ensureDir creates rel (abs, for messages) inside proj with mode dirPerm if it is missing.
func ensureDir(proj *os.Root, rel, abs string) error {
	_, err := proj.Lstat(rel)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return nil // exists (Validate judges it) or unreadable (Validate reports it)
	}
	if err := proj.Mkdir(rel, dirPerm); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil // created meanwhile; Validate judges it
		}
		return fmt.Errorf("%w: create %s: %w; check that the project folder is writable", ErrBadLayout, abs, err)
	}
	// Mkdir's mode is filtered by the umask (0277 would leave 0500); set it exactly.
	if err := proj.Chmod(rel, dirPerm); err != nil {
		return fmt.Errorf("%w: chmod %s: %w", ErrBadLayout, abs, err)
	}
	return nil
}

// Validate checks that each folder of the layout exists, is a real folder
// (not a symlink), is owned by this process's user, is fully accessible to
// it and is not writable by group or others. It reports every problem.
func (l Layout) Validate() error {
	var errs []error
	for _, d := range l.dirs() {
		if err := validateDir(d); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func validateDir(d string) error {
	fi, err := os.Lstat(d)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %s is missing; it is created on first use, so retry the call: %w", ErrBadLayout, d, err)
	case err != nil:
		return fmt.Errorf("%w: %s: %w", ErrBadLayout, d, err)
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("%w: %s is a symlink; replace it with a real folder (remove the link: it is recreated on next use)", ErrBadLayout, d)
	case !fi.IsDir():
		return fmt.Errorf("%w: %s is not a folder; move it away (it is recreated on next use)", ErrBadLayout, d)
	}
	if uid, ok := ownedByUs(fi); !ok {
		return fmt.Errorf("%w: %s is owned by user id %d, not by the user running the server; fix with chown, or remove it", ErrBadLayout, d, uid)
	}
	perm := fi.Mode().Perm()
	if !posixPerms {
		return nil
	}
	if perm&0o022 != 0 {
		return fmt.Errorf("%w: %s is writable by group or others (mode %04o); fix with: chmod 700 %s", ErrBadLayout, d, perm, d)
	}
	if perm&0o700 != 0o700 {
		return fmt.Errorf("%w: %s is not readable, writable and searchable by its owner (mode %04o); fix with: chmod 700 %s", ErrBadLayout, d, perm, d)
	}
	return nil
}
