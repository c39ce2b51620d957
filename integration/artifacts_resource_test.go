package integration

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
)

// readArtifact reads an artifact resource and returns its bytes (text or
// base64 blob) and _meta.
func (p *proc) readArtifact(ctx context.Context, uri string) ([]byte, map[string]any, error) {
	p.t.Helper()
	req := mcp.ReadResourceRequest{}
	req.Params.URI = uri
	res, err := p.c.ReadResource(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	if len(res.Contents) != 1 {
		p.t.Fatalf("%s: %d contents, want 1", uri, len(res.Contents))
	}
	switch c := res.Contents[0].(type) {
	case mcp.TextResourceContents:
		return []byte(c.Text), c.Meta, nil
	case mcp.BlobResourceContents:
		b, err := base64.StdEncoding.DecodeString(c.Blob)
		if err != nil {
			p.t.Fatalf("%s: blob is not base64: %v", uri, err)
		}
		return b, c.Meta, nil
	}
	p.t.Fatalf("%s: content is %T", uri, res.Contents[0])
	return nil, nil, nil
}

// An artifact written by one server process is read back, whole and in
// ranges, by a client of another process on the same project; files the
// task's row does not record, and links, are refused.
func TestArtifactResourceAcrossProcesses(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	project := newProject(t)
	writer := start(t, procOpts{dir: project})
	reader := start(t, procOpts{dir: project})

	// ~300 KB of text with multi-byte characters, so ranges cut some in two.
	var b strings.Builder
	for i := 0; b.Len() < 300<<10; i++ {
		fmt.Fprintf(&b, "line %d: résumé ✓ — the work is done\n", i)
	}
	content := b.String()
	var created struct {
		Task struct {
			ID string `json:"id"`
		} `json:"task"`
	}
	writer.ok(ctx, "task_create", map[string]any{"title": "write the report"}, &created)
	id := created.Task.ID
	writer.ok(ctx, "task_complete", map[string]any{"id": id, "summary": "report written",
		"artifact": map[string]any{"name": "report.md", "content": content}}, nil)

	var det struct {
		Artifacts []struct {
			Name   string `json:"name"`
			Size   int64  `json:"size"`
			SHA256 string `json:"sha256"`
		} `json:"artifacts"`
	}
	reader.ok(ctx, "task_get", map[string]any{"id": id}, &det)
	if len(det.Artifacts) != 1 || det.Artifacts[0].Name != "report.md" || det.Artifacts[0].Size != int64(len(content)) {
		t.Fatalf("task_get on the other process lists %+v, want report.md of %d bytes", det.Artifacts, len(content))
	}
	uri := "task-orchestrator://tasks/" + id + "/artifacts/report.md"

	whole, meta, err := reader.readArtifact(ctx, uri+"?workspace="+url.QueryEscape(project))
	if err != nil {
		t.Fatalf("whole read: %v\nstderr:\n%s", err, tail(reader.stderr.String(), 4000))
	}
	sum := sha256.Sum256(whole)
	if string(whole) != content || hex.EncodeToString(sum[:]) != det.Artifacts[0].SHA256 || meta["sha256"] != det.Artifacts[0].SHA256 {
		t.Fatalf("whole read: %d bytes, sha256 %x; want the %d bytes stored, sha256 %s", len(whole), sum, len(content), det.Artifacts[0].SHA256)
	}

	// The same bytes in ranges of 100,000 (not a character boundary).
	var joined []byte
	for off := 0; off < len(content); off += 100_000 {
		part, meta, err := reader.readArtifact(ctx, fmt.Sprintf("%s?offset=%d&length=100000", uri, off))
		if err != nil {
			t.Fatalf("range at %d: %v", off, err)
		}
		if more := off+len(part) < len(content); meta["more"] != more {
			t.Errorf("range at %d: _meta.more = %v, want %v", off, meta["more"], more)
		}
		joined = append(joined, part...)
	}
	if string(joined) != content {
		t.Fatalf("the ranges put together are %d bytes and differ from the %d stored", len(joined), len(content))
	}
	if _, _, err := reader.readArtifact(ctx, fmt.Sprintf("%s?offset=%d", uri, len(content))); err == nil ||
		!strings.Contains(err.Error(), fmt.Sprintf("offset %d is past the end of artifact \"report.md\" of task %s", len(content), id)) {
		t.Errorf("an offset past the end: got %v", err)
	}

	// A file planted in the task's artifacts folder is not served: the
	// database does not record it.
	dir := filepath.Join(project, ".task_orchestrator", "artifacts", id)
	if err := os.WriteFile(filepath.Join(dir, "planted.md"), []byte("not an artifact"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := reader.readArtifact(ctx, "task-orchestrator://tasks/"+id+"/artifacts/planted.md"); err == nil ||
		!strings.Contains(err.Error(), "task "+id+` has no artifact "planted.md"; its artifacts are: report.md`) {
		t.Errorf("a planted file: got %v", err)
	}

	// A link in place of the recorded artifact is refused, not followed.
	outside := filepath.Join(t.TempDir(), "secret.md")
	if err := os.WriteFile(outside, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "report.md")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, path); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{uri, uri + "?offset=0&length=10"} {
		_, _, err := reader.readArtifact(ctx, u)
		want := ".task_orchestrator/artifacts/" + id + "/report.md is a symbolic link"
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), outside) {
			t.Errorf("%s through a link: got %v, want %q", u, err, want)
		}
	}
}
