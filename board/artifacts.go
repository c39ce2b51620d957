package board

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/internal/clienterr"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// maxArtifact is the largest artifact the board serves (as the MCP
// resource's whole read).
const maxArtifact = 16 << 20

// artifact serves api/artifacts/{id}/{name}: the recorded artifact's bytes,
// read through workspace.ArtifactFiles (no link followed, regular files
// only) and checked against the recorded size and sha256, as the MCP
// resource does.
func (b *Board) artifact(w http.ResponseWriter, r *http.Request, s *session, rest string) {
	id, name, ok := strings.Cut(rest, "/")
	if !ok || id == "" || name == "" {
		plain(w, http.StatusNotFound, "An artifact address is api/artifacts/<task id>/<name>: use the links of the completions list.")
		return
	}
	ctx := r.Context()
	p, release, err := b.lease(ctx, s.root)
	if err != nil {
		plain(w, http.StatusServiceUnavailable, "The project could not be opened; the server log has the details: try again.")
		return
	}
	defer release()
	store, err := p.Tasks(ctx)
	if err != nil {
		b.log.Warn("board: open the task store", "error", workspace.Redact(err.Error()))
		plain(w, http.StatusServiceUnavailable, "The task database could not be opened; the server log has the details: try again.")
		return
	}
	d, err := store.Get(ctx, id)
	if err != nil {
		var ce *clienterr.Error
		if errors.As(err, &ce) && (ce.Kind == clienterr.NotFound || ce.Kind == clienterr.InvalidArgument) {
			plain(w, http.StatusNotFound, fmt.Sprintf("Task %s does not exist: use the links of the completions list.", strconv.Quote(clip(id, 40))))
			return
		}
		b.log.Warn("board: read a task", "error", workspace.Redact(err.Error()))
		plain(w, http.StatusInternalServerError, "The task could not be read; the server log has the details: try again.")
		return
	}
	var rec *work.ArtifactRecord
	for i := range d.Artifacts {
		if d.Artifacts[i].Name == name {
			rec = &d.Artifacts[i]
		}
	}
	if rec == nil {
		plain(w, http.StatusNotFound, fmt.Sprintf("Task %s has no artifact %s: use the links of the completions list.", id, strconv.Quote(clip(name, 80))))
		return
	}
	if rec.Size > maxArtifact {
		plain(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("Artifact %s of task %s is %d bytes, more than the %d MiB the board serves: read it with the MCP artifact resource in ranges.", strconv.Quote(name), id, rec.Size, maxArtifact>>20))
		return
	}
	data, total, err := workspace.ArtifactFiles{Layout: p.Layout()}.Read(id, name, 0, max(rec.Size, 1))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			plain(w, http.StatusNotFound, fmt.Sprintf("Artifact %s of task %s is recorded but its file is gone from %s/artifacts/%s/: it cannot be served.", strconv.Quote(name), id, workspace.DirName, id))
			return
		}
		b.log.Warn("board: read an artifact", "task", id, "error", workspace.Redact(err.Error()))
		plain(w, http.StatusForbidden, fmt.Sprintf("Artifact %s of task %s is not a regular file inside the project's artifacts folder, so it is not served: restore the file.", strconv.Quote(name), id))
		return
	}
	sum := sha256.Sum256(data)
	if total != rec.Size || hex.EncodeToString(sum[:]) != rec.SHA256 {
		plain(w, http.StatusConflict, fmt.Sprintf("Artifact %s of task %s was changed on disk after it was stored, so it is not served: restore the file or store the artifact anew.", strconv.Quote(name), id))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Disposition", "attachment; filename*=UTF-8''"+url.PathEscape(name))
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(data)
	}
}
