package tools_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/tools"
)

// withResources registers the server's resources on e, as main does.
func withResources(e *env) *env {
	res, tpl := tools.Resources(e.deps)
	e.srv.AddResources(res...)
	e.srv.AddResourceTemplates(tpl...)
	return e
}

// readBytes reads uri and returns its one content's bytes (text or blob),
// its MIME type and _meta; err is the read's error.
func (e *env) readBytes(uri string) ([]byte, string, map[string]any, error) {
	e.t.Helper()
	req := mcp.ReadResourceRequest{}
	req.Params.URI = uri
	res, err := e.c.ReadResource(context.Background(), req)
	if err != nil {
		return nil, "", nil, err
	}
	if len(res.Contents) != 1 {
		e.t.Fatalf("%s: %d contents, want 1", uri, len(res.Contents))
	}
	switch c := res.Contents[0].(type) {
	case mcp.TextResourceContents:
		if c.URI != uri {
			e.t.Errorf("content uri %q, want %q", c.URI, uri)
		}
		return []byte(c.Text), c.MIMEType, c.Meta, nil
	case mcp.BlobResourceContents:
		b, err := base64.StdEncoding.DecodeString(c.Blob)
		if err != nil {
			e.t.Fatalf("%s: blob is not base64: %v", uri, err)
		}
		return b, c.MIMEType, c.Meta, nil
	}
	e.t.Fatalf("%s: content is %T", uri, res.Contents[0])
	return nil, "", nil, nil
}

// artifactRecord is one artifact as task_get lists it.
type artifactRecord struct {
	Name      string `json:"name"`
	Path      string `json:"path"`
	Size      int64  `json:"size"`
	SHA256    string `json:"sha256"`
	CreatedAt string `json:"created_at"`
}

// completedWithArtifact creates a task and completes it keeping one artifact,
// and returns the task's id and task_get's record of the artifact.
func (e *env) completedWithArtifact(name, content string) (string, artifactRecord) {
	e.t.Helper()
	var created struct {
		Task struct{ ID string } `json:"task"`
	}
	e.ok("task_create", map[string]any{"title": "write the report"}, &created)
	id := created.Task.ID
	e.ok("task_complete", map[string]any{"id": id, "summary": "done", "artifact": map[string]any{"name": name, "content": content}}, nil)
	var det struct {
		Artifacts []artifactRecord `json:"artifacts"`
	}
	e.ok("task_get", map[string]any{"id": id}, &det)
	if len(det.Artifacts) != 1 || det.Artifacts[0].Name != name {
		e.t.Fatalf("task_get lists artifacts %+v, want one named %s", det.Artifacts, name)
	}
	a := det.Artifacts[0]
	sum := sha256.Sum256([]byte(content))
	if a.Size != int64(len(content)) || a.SHA256 != hex.EncodeToString(sum[:]) || a.CreatedAt == "" ||
		a.Path != ".task_orchestrator/artifacts/"+id+"/"+name {
		e.t.Fatalf("task_get's artifact record %+v does not describe the %d bytes stored", a, len(content))
	}
	return id, a
}

func artifactURI(id, name string) string {
	return "task-orchestrator://tasks/" + id + "/artifacts/" + url.PathEscape(name)
}

func TestArtifactResourceReadsARecordedArtifactWholeAndInRanges(t *testing.T) {
	e := withResources(newEnv(t))
	content := "# Report\n\nAll tests pass — ünïcödé included.\n"
	id, rec := e.completedWithArtifact("report.md", content)
	uri := artifactURI(id, "report.md")

	got, mimeType, meta, err := e.readBytes(uri)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != content || mimeType != "text/markdown; charset=utf-8" {
		t.Fatalf("whole read gave %q (%s), want the stored %q as text/markdown", got, mimeType, content)
	}
	if meta["sha256"] != rec.SHA256 || meta["size"] != float64(rec.Size) {
		t.Errorf("_meta %v, want task_get's size %d and sha256 %s", meta, rec.Size, rec.SHA256)
	}

	// A range, the workspace URL-encoded, plain, and the variables in any order.
	encoded := url.QueryEscape(e.project)
	for _, u := range []string{
		uri + "?offset=2&length=6",
		uri + "?length=6&offset=2",
		uri + "?offset=2&length=6&workspace=" + encoded,
		uri + "?workspace=" + encoded + "&offset=2&length=6",
		uri + "?workspace=" + e.project + "&offset=2&length=6",
	} {
		got, _, meta, err := e.readBytes(u)
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		if string(got) != content[2:8] {
			t.Errorf("%s gave %q, want %q", u, got, content[2:8])
		}
		if meta["offset"] != float64(2) || meta["length"] != float64(6) || meta["more"] != true {
			t.Errorf("%s: _meta %v, want offset 2, length 6, more true", u, meta)
		}
	}
	// The whole artifact through both workspace forms.
	for _, u := range []string{uri + "?workspace=" + encoded, uri + "?workspace=" + e.project} {
		if got, _, _, err := e.readBytes(u); err != nil || string(got) != content {
			t.Errorf("%s gave %q, %v; want the whole artifact", u, got, err)
		}
	}
	// The last bytes: the range stops at the end and says nothing more follows.
	got, _, meta, err = e.readBytes(uri + "?offset=" + strconv.Itoa(len(content)-3))
	if err != nil || string(got) != content[len(content)-3:] || meta["more"] != false {
		t.Errorf("tail read gave %q, %v, _meta %v", got, err, meta)
	}
	// A range that cuts a character in two is not text: it comes as a blob, byte-exact.
	cut := strings.Index(content, "ü") + 1
	got, mimeType, _, err = e.readBytes(uri + "?offset=" + strconv.Itoa(cut) + "&length=3")
	if err != nil || string(got) != content[cut:cut+3] {
		t.Errorf("a range cutting a character gave %q (%s), %v; want the bytes %q", got, mimeType, err, content[cut:cut+3])
	}
}

func TestArtifactResourceServesNonTextAsABlob(t *testing.T) {
	e := withResources(newEnv(t))
	content := "\x00\x01binary\x00"
	id, _ := e.completedWithArtifact("data.bin", content)
	req := mcp.ReadResourceRequest{}
	req.Params.URI = artifactURI(id, "data.bin")
	res, err := e.c.ReadResource(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	blob, ok := res.Contents[0].(mcp.BlobResourceContents)
	if !ok {
		t.Fatalf("content is %T, want a base64 blob", res.Contents[0])
	}
	if b, _ := base64.StdEncoding.DecodeString(blob.Blob); string(b) != content {
		t.Fatalf("blob decodes to %q, want %q", b, content)
	}
	if blob.MIMEType != "application/octet-stream" {
		t.Errorf("mimeType %q, want application/octet-stream", blob.MIMEType)
	}
}

func TestArtifactResourceRefusals(t *testing.T) {
	e := withResources(newEnv(t))
	content := "0123456789"
	id, _ := e.completedWithArtifact("notes.txt", content)
	uri := artifactURI(id, "notes.txt")
	dir := filepath.Join(e.project, ".task_orchestrator", "artifacts", id)

	// A file planted beside it, not recorded with the task.
	if err := os.WriteFile(filepath.Join(dir, "planted.txt"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ uri, want string }{
		{artifactURI("tsk_doesnotexist", "notes.txt"), "task tsk_doesnotexist does not exist; list tasks with task_list"},
		{artifactURI(id, "planted.txt"), "task " + id + ` has no artifact "planted.txt"; its artifacts are: notes.txt`},
		{artifactURI(id, "other.txt"), "task " + id + ` has no artifact "other.txt"; its artifacts are: notes.txt`},
		{uri + "?offset=10", `offset 10 is past the end of artifact "notes.txt" of task ` + id + ", which is 10 bytes; pass an offset from 0 to 9"},
		{uri + "?offset=-1", `offset="-1" in the artifact address must be a whole number from 0 to`},
		{uri + "?length=0", `length="0" in the artifact address must be a whole number from 1 to 1048576`},
		{uri + "?length=1048577", `length="1048577" in the artifact address must be a whole number from 1 to 1048576`},
		{uri + "?offset=x", `offset="x" in the artifact address must be a whole number`},
		{uri + "?offset=1&offset=2", `the query parameter "offset" appears twice in the resource address; give it once`},
		{artifactURI(id, ".hidden"), `the artifact name ".hidden" in the address is not one task_complete could have stored; copy the name task_get lists`},
		{"task-orchestrator://tasks/bad%20id/artifacts/notes.txt", `the task id "bad id" in the artifact address is not a task id`},
	}
	for _, c := range cases {
		_, _, _, err := e.readBytes(c.uri)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want the sentence %q", c.uri, err, c.want)
		}
	}

	// The recorded file changed on disk (same name, other size): not served.
	path := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(path, []byte("changed after it was stored"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := e.readBytes(uri); err == nil || !strings.Contains(err.Error(), `artifact "notes.txt" of task `+id+" was changed on disk after it was stored") {
		t.Errorf("a changed artifact: got %v", err)
	}
	// Same size, other bytes: a whole read checks the sha256.
	if err := os.WriteFile(path, []byte("9876543210"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := e.readBytes(uri); err == nil || !strings.Contains(err.Error(), "its sha256 differs from the recorded one") {
		t.Errorf("an artifact with other bytes of the same size: got %v", err)
	}

	// A link in place of the artifact, to a file outside the project: refused, not followed.
	outside := filepath.Join(t.TempDir(), "outside.txt")
	if err := os.WriteFile(outside, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, path); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{uri, uri + "?offset=0&length=4"} {
		_, _, _, err := e.readBytes(u)
		want := ".task_orchestrator/artifacts/" + id + "/notes.txt is a symbolic link"
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), outside) {
			t.Errorf("%s through a link: got %v, want %q", u, err, want)
		}
	}
	// The file gone: said so.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := e.readBytes(uri); err == nil || !strings.Contains(err.Error(), `artifact "notes.txt" of task `+id+" is recorded but its file is gone") {
		t.Errorf("a missing artifact file: got %v", err)
	}
}

// A plain absolute path works in ?workspace= of every template, as the
// URL-encoded one does.
func TestResourceTemplatesTakeAPlainWorkspacePath(t *testing.T) {
	e := withResources(newEnv(t))
	e.ok("task_create", map[string]any{"title": "open work"}, nil)
	for _, uri := range []string{
		tools.ResourceOpenTasks + "?workspace=" + e.project,
		tools.ResourceOpenTasks + "?workspace=" + url.QueryEscape(e.project),
		tools.ResourcePoolStatus + "?workspace=" + e.project,
	} {
		got, mimeType, _, err := e.readBytes(uri)
		if err != nil {
			t.Fatalf("%s: %v", uri, err)
		}
		if mimeType != "application/json" || !strings.Contains(string(got), e.project) {
			t.Errorf("%s gave %s %s, want JSON about %s", uri, mimeType, got, e.project)
		}
	}
}

// BenchmarkArtifactResource measures artifact reads in process: a whole
// 64 KiB text artifact, and a 1 MiB range of a 4 MiB one.
func BenchmarkArtifactResource(b *testing.B) {
	e := withResources(newEnvWith(b, false))
	small, _ := e.completedWithArtifact("small.md", strings.Repeat("0123456789abcdef", 4<<10))
	large, _ := e.completedWithArtifact("large.txt", strings.Repeat("0123456789abcdef", 256<<10))
	for _, c := range []struct{ name, uri string }{
		{"whole_64KiB", artifactURI(small, "small.md")},
		{"range_1MiB_of_4MiB", artifactURI(large, "large.txt") + "?offset=1048576&length=1048576"},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, _, _, err := e.readBytes(c.uri); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
