package workspace

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxArtifactNameBytes is the longest artifact name (the usual file-name limit).
const MaxArtifactNameBytes = 255

// Artifact errors; test with errors.Is.
var (
	// ErrBadArtifactName: the name is not a single, plain file name.
	ErrBadArtifactName = errors.New("bad artifact name")
	// ErrBadTaskID: the task id cannot name an artifact folder.
	ErrBadTaskID = errors.New("bad task id")
	// ErrArtifactTooLarge: the content is over security.max_artifact_bytes.
	ErrArtifactTooLarge = errors.New("artifact too large")
	// ErrUnsafeArtifactPath: a symlink or odd file is where the artifact would go.
	ErrUnsafeArtifactPath = errors.New("unsafe artifact path")
)

var taskIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Artifact is a file a task stored on completion.
type Artifact struct {
	Name   string
	Path   string // absolute
	Size   int64
	SHA256 string // hex
}

const goodNameExample = `use a single file name such as "report.md"`

// SanitizeArtifactName returns name if it is a plain, visible, single file
// name: non-empty, at most 255 bytes of valid UTF-8, no control characters,
// no / or \, not . or .., and not starting with "." (hidden files are
// reserved for the store's temporary files). It never rewrites a name: a
// silently changed name would surprise the agent that asked for it.
func SanitizeArtifactName(name string) (string, error) {
	bad := func(rule string) (string, error) {
		return "", fmt.Errorf("%w: %s %s; %s", ErrBadArtifactName, quoteShort(name), rule, goodNameExample)
	}
	switch {
	case name == "":
		return bad("is empty")
	case len(name) > MaxArtifactNameBytes:
		return bad(fmt.Sprintf("is %d bytes long, over the %d-byte limit", len(name), MaxArtifactNameBytes))
	case !utf8.ValidString(name):
		return bad("is not valid UTF-8")
	case strings.ContainsFunc(name, unicode.IsControl):
		return bad("contains a control character (NUL, newline, tab, …)")
	case strings.ContainsAny(name, `/\`):
		return bad(`contains / or \ (sub-folders are not allowed)`)
	case name == "." || name == "..":
		return bad("is not a file name")
	case name[0] == '.':
		return bad(`starts with "." (hidden files are not allowed)`)
	}
	return name, nil
}

// quoteShort quotes s for an error message, cut to a readable length.
func quoteShort(s string) string {
	const limit = 48
	if len(s) <= limit {
		return fmt.Sprintf("%q", s)
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%q…", s[:cut])
}

// WriteArtifact stores content as <layout.Artifacts>/<taskID>/<name>,
// atomically: a temporary file in the same folder is written, fsynced and
// renamed over the target (replacing an earlier artifact of the same name),
// then the folder is fsynced. Files are 0600 and the task folder 0700.
//
// It refuses a task folder or target that is a symlink, and any path that
// resolves outside layout.Artifacts; the file operations themselves go
// through an os.Root on the artifacts folder, so a symlink swapped in
// between check and use cannot redirect them either.
func WriteArtifact(layout Layout, taskID, name string, content []byte, maxBytes int64) (Artifact, error) {
	name, err := SanitizeArtifactName(name)
	if err != nil {
		return Artifact{}, err
	}
	if !taskIDPattern.MatchString(taskID) {
		return Artifact{}, fmt.Errorf("%w: %s must be 1 to 64 letters, digits, _ or -", ErrBadTaskID, quoteShort(taskID))
	}
	if maxBytes < 1 {
		return Artifact{}, fmt.Errorf("artifact size limit %d is not positive; set security.max_artifact_bytes to at least 1", maxBytes)
	}
	if int64(len(content)) > maxBytes {
		return Artifact{}, fmt.Errorf("%w: %q is %d bytes, over the limit of %d bytes (security.max_artifact_bytes); store a smaller file or raise the limit in the global config",
			ErrArtifactTooLarge, name, len(content), maxBytes)
	}
	if !filepath.IsAbs(layout.Artifacts) {
		return Artifact{}, fmt.Errorf("artifacts folder %q is not absolute; build the layout from a resolved root", layout.Artifacts)
	}

	base, err := openArtifactsRoot(layout.Artifacts)
	if err != nil {
		return Artifact{}, err
	}
	defer base.Close()
	if err := ensureTaskDir(base, layout.Artifacts, taskID); err != nil {
		return Artifact{}, err
	}
	rel := filepath.Join(taskID, name)
	target := filepath.Join(layout.Artifacts, rel)
	switch fi, err := base.Lstat(rel); {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return Artifact{}, fmt.Errorf("artifact %s: %w", target, err)
	case !fi.Mode().IsRegular():
		return Artifact{}, fmt.Errorf("%w: %s exists and is not a regular file (a symlink or folder); remove it or choose another name", ErrUnsafeArtifactPath, target)
	}

	if err := writeAtomic(base, taskID, name, content); err != nil {
		return Artifact{}, fmt.Errorf("store artifact %s: %w", target, err)
	}
	sum := sha256.Sum256(content)
	return Artifact{Name: name, Path: target, Size: int64(len(content)), SHA256: hex.EncodeToString(sum[:])}, nil
}

func openArtifactsRoot(dir string) (*os.Root, error) {
	fi, err := os.Lstat(dir)
	if err != nil {
		return nil, fmt.Errorf("artifacts folder %s: %w; create the project layout first (Ensure)", dir, err)
	}
	if !fi.IsDir() { // also true for a symlink
		return nil, fmt.Errorf("%w: artifacts folder %s is a symlink or not a folder; remove it (it is recreated on next use)", ErrUnsafeArtifactPath, dir)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("artifacts folder %s: %w", dir, err)
	}
	return root, nil
}

// ensureTaskDir creates <artifacts>/<taskID> (0700) if missing and checks it
// is a real folder that resolves to inside the artifacts folder.
func ensureTaskDir(base *os.Root, artifacts, taskID string) error {
	dir := filepath.Join(artifacts, taskID)
	fi, err := base.Lstat(taskID)
	if errors.Is(err, fs.ErrNotExist) {
		if err = base.Mkdir(taskID, dirPerm); err == nil {
			err = base.Chmod(taskID, dirPerm) // undo the umask
		} else if errors.Is(err, fs.ErrExist) {
			err = nil // made meanwhile; checked below
		}
		if err != nil {
			return fmt.Errorf("create artifact folder %s: %w", dir, err)
		}
		fi, err = base.Lstat(taskID)
	}
	switch {
	case err != nil:
		return fmt.Errorf("artifact folder %s: %w", dir, err)
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("%w: artifact folder %s is a symlink; remove it (it is recreated on next use)", ErrUnsafeArtifactPath, dir)
	case !fi.IsDir():
		return fmt.Errorf("%w: %s is not a folder; remove it (it is recreated on next use)", ErrUnsafeArtifactPath, dir)
	}
	realBase, err := filepath.EvalSymlinks(artifacts)
	if err != nil {
		return fmt.Errorf("artifacts folder %s: %w", artifacts, err)
	}
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("artifact folder %s: %w", dir, err)
	}
	if realDir == realBase || !within(realDir, realBase) {
		return fmt.Errorf("%w: artifact folder %s leads to %s, outside %s; remove it (it is recreated on next use)", ErrUnsafeArtifactPath, dir, realDir, realBase)
	}
	return nil
}

// writeAtomic writes content to a hidden temporary file beside the target
// and renames it into place. Artifact names never start with ".", so the
// temporary name cannot collide with an artifact.
func writeAtomic(base *os.Root, taskID, name string, content []byte) (err error) {
	tmp := filepath.Join(taskID, ".tmp-"+rand.Text())
	f, err := base.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = base.Remove(tmp)
		}
	}()
	if err = f.Chmod(0o600); err != nil { // undo the umask
		_ = f.Close()
		return err
	}
	if _, err = f.Write(content); err != nil {
		_ = f.Close()
		return err
	}
	if err = f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = base.Rename(tmp, filepath.Join(taskID, name)); err != nil {
		return err
	}
	// Make the rename itself durable.
	d, err := base.Open(taskID)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
