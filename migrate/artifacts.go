package migrate

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// The Python server (ArtifactManager) writes each artifact of a subtask as
// <.task_orchestrator>/artifacts/<task_id>/<artifact_id>.md, or, when the
// agent named files, as .../<task_id>/mirrored/<path>_<artifact_id>.md, and
// beside it <artifact_id>_metadata.json saying which file it is. The subtask
// row's artifacts column holds ".task_orchestrator/artifacts/<task>/<artifact_id>.md"
// (wrong for mirrored ones) plus any free-text "legacy" references.

// pyArtifactMeta is the part of <artifact_id>_metadata.json migrate reads.
type pyArtifactMeta struct {
	ArtifactID   string `json:"artifact_id"`
	TaskID       string `json:"task_id"`
	RelativePath string `json:"relative_path"` // relative to the artifacts folder
	PrimaryFile  string `json:"primary_file"`  // absolute, where it was written
	CreatedAt    string `json:"created_at"`    // datetime.utcnow().isoformat()
}

// artifactCopy is one Python artifact file and where it goes in our layout.
type artifactCopy struct {
	TaskID string
	Source string // absolute
	Dest   string // absolute: <layout.Artifacts>/<task>/<name>
	Record sqlite.ArtifactRecord
	// State: "in place" (Source is Dest: the two servers share the folder),
	// "unchanged" (Dest holds the same bytes), or "copy".
	State   string
	content []byte // for State "copy"
}

// findArtifacts works out, for every subtask, which Python artifact files
// exist and what they become in our layout. It reads only. Files that cannot
// be carried over become warnings and stay where they are.
func findArtifacts(db *pyDB, layout workspace.Layout, maxBytes int64) (map[string][]artifactCopy, []string) {
	pyArtifacts := filepath.Join(filepath.Dir(db.Path), "artifacts")
	out := map[string][]artifactCopy{}
	var warnings []string
	warn := func(format string, args ...any) { warnings = append(warnings, fmt.Sprintf(format, args...)) }
	for _, s := range db.Subtasks {
		dir := filepath.Join(pyArtifacts, s.ID)
		if !within(dir, pyArtifacts) {
			continue
		}
		var sources []artifactSource
		seen := map[string]bool{}
		var metas []string
		entries, _ := os.ReadDir(dir) // sorted by name; a missing folder means no artifacts
		for _, e := range entries {
			if e.Type().IsRegular() && strings.HasSuffix(e.Name(), "_metadata.json") {
				metas = append(metas, filepath.Join(dir, e.Name()))
			}
		}
		for _, mp := range metas {
			src, ok := readArtifactMeta(mp, pyArtifacts, s, warn)
			if ok && !seen[src.path] {
				seen[src.path] = true
				sources = append(sources, src)
			}
		}
		// References without a metadata file (older versions): take those
		// that name a file in the task's folder.
		for _, ref := range s.Artifacts {
			base := filepath.Base(filepath.FromSlash(ref))
			if !strings.HasPrefix(filepath.ToSlash(ref), ".task_orchestrator/artifacts/"+s.ID+"/") {
				continue // free text, or a path in the project: kept in metadata.python.artifacts
			}
			p := filepath.Join(dir, base)
			if seen[p] || !isRegular(p) {
				continue
			}
			seen[p] = true
			created := s.CreatedAt
			if s.CompletedAt != nil {
				created = *s.CompletedAt
			}
			sources = append(sources, artifactSource{path: p, created: created})
		}
		for _, src := range sources {
			c, err := planCopy(layout, s.ID, src, maxBytes)
			if err != nil {
				warn("subtask %s: artifact %s is not carried over: %v", s.ID, src.path, err)
				continue
			}
			out[s.ID] = append(out[s.ID], c)
		}
		// Two sources with one name (mirrored paths) cannot both be ours.
		byName := map[string]int{}
		var kept []artifactCopy
		for _, c := range out[s.ID] {
			if _, dup := byName[c.Record.Name]; dup {
				warn("subtask %s: artifact %s has the same file name as another of its artifacts; only the first is carried over", s.ID, c.Source)
				continue
			}
			byName[c.Record.Name] = len(kept)
			kept = append(kept, c)
		}
		if kept != nil {
			out[s.ID] = kept
		}
	}
	return out, warnings
}

type artifactSource struct {
	path    string
	created time.Time
}

func readArtifactMeta(path, pyArtifacts string, s pySubtask, warn func(string, ...any)) (artifactSource, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		warn("subtask %s: %s cannot be read (%v); its artifact is not carried over", s.ID, path, err)
		return artifactSource{}, false
	}
	var m pyArtifactMeta
	if err := json.Unmarshal(b, &m); err != nil {
		warn("subtask %s: %s is not valid JSON (%v); its artifact is not carried over", s.ID, path, err)
		return artifactSource{}, false
	}
	// relative_path first: it still holds when the project folder was moved.
	var file string
	if m.RelativePath != "" {
		if p := filepath.Join(pyArtifacts, filepath.FromSlash(m.RelativePath)); within(p, pyArtifacts) && isRegular(p) {
			file = p
		}
	}
	if file == "" && m.PrimaryFile != "" {
		if p := filepath.Clean(m.PrimaryFile); within(p, pyArtifacts) && isRegular(p) {
			file = p
		}
	}
	if file == "" {
		warn("subtask %s: the artifact %s named in %s is missing; nothing to carry over", s.ID, m.ArtifactID, path)
		return artifactSource{}, false
	}
	created := s.CreatedAt
	if t, err := parsePyTime(m.CreatedAt, time.UTC); err == nil {
		created = t
	}
	return artifactSource{path: file, created: created}, true
}

// planCopy reads src and decides what to do with it.
func planCopy(layout workspace.Layout, taskID string, src artifactSource, maxBytes int64) (artifactCopy, error) {
	name, err := workspace.SanitizeArtifactName(filepath.Base(src.path))
	if err != nil {
		return artifactCopy{}, err
	}
	fi, err := os.Stat(src.path)
	if err != nil {
		return artifactCopy{}, err
	}
	if fi.Size() > maxBytes {
		return artifactCopy{}, fmt.Errorf("it is %d bytes, over security.max_artifact_bytes (%d); raise that limit in the global config to carry it over", fi.Size(), maxBytes)
	}
	content, err := os.ReadFile(src.path)
	if err != nil {
		return artifactCopy{}, err
	}
	if int64(len(content)) > maxBytes {
		return artifactCopy{}, fmt.Errorf("it is %d bytes, over security.max_artifact_bytes (%d)", len(content), maxBytes)
	}
	sum := sha256.Sum256(content)
	dest := filepath.Join(layout.Artifacts, taskID, name)
	rel, err := filepath.Rel(layout.Root, dest)
	if err != nil {
		return artifactCopy{}, err
	}
	c := artifactCopy{
		TaskID: taskID, Source: src.path, Dest: dest,
		Record: sqlite.ArtifactRecord{Name: name, Path: filepath.ToSlash(rel), Size: int64(len(content)),
			SHA256: hex.EncodeToString(sum[:]), CreatedAt: src.created.UTC()},
	}
	dfi, err := os.Lstat(dest)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		c.State, c.content = "copy", content
	case err != nil:
		return artifactCopy{}, err
	case os.SameFile(fi, dfi):
		c.State = "in place"
	case !dfi.Mode().IsRegular():
		return artifactCopy{}, fmt.Errorf("%s exists and is not a regular file; remove it and run migrate again", dest)
	default:
		have, err := os.ReadFile(dest)
		if err != nil {
			return artifactCopy{}, err
		}
		if !bytes.Equal(have, content) {
			return artifactCopy{}, fmt.Errorf("%s already exists with other content; it is left as it is (move it away and run migrate again to carry the Python one over)", dest)
		}
		c.State = "unchanged"
	}
	return c, nil
}

func isRegular(p string) bool {
	fi, err := os.Lstat(p)
	return err == nil && fi.Mode().IsRegular()
}

// within reports whether p is dir or inside it, lexically.
func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}
