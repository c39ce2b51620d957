package workspace

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// ArtifactFiles keeps a project's artifact files under Layout.Artifacts
// (<artifacts>/<task id>/<name>): the artifact store of the task domain
// (work.ArtifactFiles) and the reader of the artifact resource. Every file
// operation goes through an os.Root on the artifacts folder, as WriteArtifact
// does, so no link can lead it outside; artifacts are never overwritten.
// It speaks the domain's model (package work, a leaf that imports nothing
// of the module but its error type).
type ArtifactFiles struct {
	Layout   Layout
	MaxBytes int64 // security.max_artifact_bytes
}

var _ work.ArtifactFiles = ArtifactFiles{}

func (a ArtifactFiles) rel(taskID, name string) (string, error) {
	if _, err := SanitizeArtifactName(name); err != nil {
		return "", err
	}
	if !taskIDPattern.MatchString(taskID) {
		return "", fmt.Errorf("%w: %s must be 1 to 64 letters, digits, _ or -", ErrBadTaskID, quoteShort(taskID))
	}
	return filepath.Join(taskID, name), nil
}

// Exists says whether task taskID has an artifact file called name. A link
// or folder of that name counts as existing (it is never replaced).
func (a ArtifactFiles) Exists(taskID, name string) (bool, error) {
	rel, err := a.rel(taskID, name)
	if err != nil {
		return false, err
	}
	base, err := openArtifactsRoot(a.Layout.Artifacts)
	if err != nil {
		return false, err
	}
	defer base.Close()
	// A task folder that is a link is refused by name here, as Write would
	// refuse it, rather than failing later as a path that escapes the root.
	switch fi, err := base.Lstat(taskID); {
	case err == nil && fi.Mode()&fs.ModeSymlink != 0:
		return false, fmt.Errorf("%w: artifact folder %s is a symlink; remove it (it is recreated on next use)",
			ErrUnsafeArtifactPath, filepath.Join(a.Layout.Artifacts, taskID))
	case err == nil && !fi.IsDir():
		return false, fmt.Errorf("%w: %s is not a folder; remove it (it is recreated on next use)",
			ErrUnsafeArtifactPath, filepath.Join(a.Layout.Artifacts, taskID))
	}
	switch _, err := base.Lstat(rel); {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("artifact %s: %w", filepath.Join(a.Layout.Artifacts, rel), err)
	}
	return true, nil
}

// Write stores content as a new artifact, durably: a hidden temporary file
// is written and fsynced, then linked to its name, which fails with an
// error matching fs.ErrExist when the name exists (another call may have
// written it since Exists), then the folder is fsynced.
func (a ArtifactFiles) Write(taskID, name string, content []byte) (rec work.ArtifactRecord, err error) {
	rel, err := a.rel(taskID, name)
	if err != nil {
		return rec, err
	}
	if a.MaxBytes < 1 {
		return rec, fmt.Errorf("artifact size limit %d is not positive; set security.max_artifact_bytes to at least 1", a.MaxBytes)
	}
	if int64(len(content)) > a.MaxBytes {
		return rec, fmt.Errorf("%w: %q is %d bytes, over the limit of %d bytes (security.max_artifact_bytes); store a smaller file or raise the limit in the global config",
			ErrArtifactTooLarge, name, len(content), a.MaxBytes)
	}
	base, err := openArtifactsRoot(a.Layout.Artifacts)
	if err != nil {
		return rec, err
	}
	defer base.Close()
	if err := ensureTaskDir(base, a.Layout.Artifacts, taskID); err != nil {
		return rec, err
	}
	target := filepath.Join(a.Layout.Artifacts, rel)
	tmp := filepath.Join(taskID, ".tmp-"+rand.Text())
	f, err := base.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return rec, fmt.Errorf("store artifact %s: %w", target, err)
	}
	defer func() { _ = base.Remove(tmp) }() // after the link, or on failure
	err = f.Chmod(0o600)                    // undo the umask
	if err == nil {
		_, err = f.Write(content)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return rec, fmt.Errorf("store artifact %s: %w", target, err)
	}
	if err := base.Link(tmp, rel); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return rec, fmt.Errorf("artifact %s: %w", target, fs.ErrExist)
		}
		return rec, fmt.Errorf("store artifact %s: %w", target, err)
	}
	if d, err := base.Open(taskID); err == nil { // make the link durable
		err = d.Sync()
		_ = d.Close()
		if err != nil {
			return rec, fmt.Errorf("store artifact %s: %w", target, err)
		}
	}
	sum := sha256.Sum256(content)
	relRoot, err := filepath.Rel(a.Layout.Root, target)
	if err != nil {
		relRoot = target
	}
	return work.ArtifactRecord{Name: name, Path: filepath.ToSlash(relRoot), Size: int64(len(content)),
		SHA256: hex.EncodeToString(sum[:]), CreatedAt: time.Now().UTC()}, nil
}

// Remove deletes the file of a record Write returned (the undo of a
// completion that failed). A file already gone is not an error.
func (a ArtifactFiles) Remove(rec work.ArtifactRecord) error {
	rel, err := filepath.Rel(a.Layout.Artifacts, filepath.Join(a.Layout.Root, filepath.FromSlash(rec.Path)))
	if err != nil || !filepath.IsLocal(rel) {
		return fmt.Errorf("artifact %s is not under the artifacts folder", rec.Path)
	}
	base, err := openArtifactsRoot(a.Layout.Artifacts)
	if err != nil {
		return err
	}
	defer base.Close()
	if err := base.Remove(rel); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove artifact %s: %w", rec.Path, err)
	}
	return nil
}

// Read returns up to length bytes of task taskID's artifact name from
// offset (length 0 or less: to the end, at most MaxBytes), and the file's
// size. A name that is not a regular file (a link, a folder, a FIFO) is
// refused (an *UnsafeFileError), as is a link on the way to it.
func (a ArtifactFiles) Read(taskID, name string, offset, length int64) (data []byte, total int64, err error) {
	rel, err := a.rel(taskID, name)
	if err != nil {
		return nil, 0, err
	}
	if offset < 0 {
		return nil, 0, fmt.Errorf("offset %d is negative; pass 0 or more", offset)
	}
	path := filepath.Join(a.Layout.Artifacts, rel)
	// No link is followed, on the way or at the end, and a FIFO does not block.
	f, err := OpenProjectFile(a.Layout, path, os.O_RDONLY, 0)
	if err != nil {
		return nil, 0, fmt.Errorf("artifact %s: %w", rel, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, fmt.Errorf("artifact %s: %w", rel, err)
	}
	total = fi.Size()
	if offset >= total {
		return []byte{}, total, nil
	}
	n := total - offset
	if length > 0 && length < n {
		n = length
	}
	if a.MaxBytes > 0 && n > a.MaxBytes {
		n = a.MaxBytes
	}
	data = make([]byte, n)
	m, err := f.ReadAt(data, offset)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, 0, fmt.Errorf("read artifact %s: %w", path, err)
	}
	return data[:m], total, nil
}
