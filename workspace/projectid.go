package workspace

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// A project's stable id names it beyond its path (issue 18): across hosts
// that reach the same project through different mounts, and in a shared task
// database, where the root path is only a label. It is created once, kept in
// the project's task database (which decides) and copied to
// .task_orchestrator/project_id, where other processes and tools can read it
// without opening the database.

// ProjectIDFile is the id's file name, in the project's data folder.
const ProjectIDFile = "project_id"

var projectIDPattern = regexp.MustCompile(`^prj_[0-9a-f]{16}$`)

// NewProjectID returns a fresh random project id: "prj_" and 16 hex digits.
func NewProjectID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on the platforms Go supports
	return "prj_" + hex.EncodeToString(b[:])
}

// ValidProjectID reports whether id has a project id's shape.
func ValidProjectID(id string) bool { return projectIDPattern.MatchString(id) }

// BadProjectIDError says the id file holds something that is not an id
// (the file is the project's, so untrusted).
type BadProjectIDError struct {
	Got string // the file's first bytes, quoted
}

func (e *BadProjectIDError) Error() string {
	return fmt.Sprintf("%s/%s holds %s, which is not a project id (prj_ and 16 hex digits); delete the file "+
		"and the server writes the project's id back from its task database", DirName, ProjectIDFile, e.Got)
}

// ReadProjectID reads the project's id file without following a link or
// blocking on a FIFO: "" and no error when there is none, a
// *BadProjectIDError when it holds anything but one id, an *UnsafeFileError
// when it is not a regular file.
func ReadProjectID(l Layout) (string, error) {
	f, err := OpenProjectFile(l, filepath.Join(l.Dir, ProjectIDFile), os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 64))
	if err != nil {
		return "", fmt.Errorf("read %s/%s: %w", DirName, ProjectIDFile, err)
	}
	id := strings.TrimSpace(string(b))
	if !ValidProjectID(id) {
		got := id
		if len(got) > 24 {
			got = got[:24] + "…"
		}
		return "", &BadProjectIDError{Got: fmt.Sprintf("%q", got)}
	}
	return id, nil
}

// WriteProjectID writes id to the project's id file atomically (a reader
// sees the old file or the new one, never a part), without following links.
func WriteProjectID(l Layout, id string) error {
	if !ValidProjectID(id) {
		return fmt.Errorf("workspace: %q is not a project id", id)
	}
	return ReplaceProjectFile(l, filepath.Join(l.Dir, ProjectIDFile), []byte(id+"\n"), 0o600)
}
