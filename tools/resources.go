package tools

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"mime"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/pooling"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// Resource addresses. The plain URIs are about the project the server picks
// for the client (its roots, TASK_ORCHESTRATOR_WORKSPACE, its working
// directory); the templates name the project explicitly.
//
// Each template takes workspace URL-encoded (the RFC 6570 form,
// ?workspace=%2Fhome%2Fme%2Fproject); its "plain" twin takes it as written
// (?workspace=/home/me/project). HookResourceAddresses makes any plain value
// read, anywhere in the query, with spaces or non-ASCII letters.
const (
	ResourceOpenTasks         = "task-orchestrator://tasks/open"
	ResourcePoolStatus        = "task-orchestrator://pools/status"
	ResourceOpenTasksTemplate = "task-orchestrator://tasks/open{?workspace}"
	ResourcePoolsTemplate     = "task-orchestrator://pools/status{?workspace}"
	ResourceArtifactTemplate  = "task-orchestrator://tasks/{id}/artifacts/{name}{?workspace}"
	ResourceArtifactRange     = "task-orchestrator://tasks/{id}/artifacts/{name}{?offset,length,workspace}"

	ResourceOpenTasksPlain = "task-orchestrator://tasks/open?workspace={+workspace}"
	ResourcePoolsPlain     = "task-orchestrator://pools/status?workspace={+workspace}"
	ResourceArtifactPlain  = "task-orchestrator://tasks/{id}/artifacts/{name}?workspace={+workspace}"

	ResourceTaskTemplate = "task-orchestrator://tasks/{id}{?workspace}"
	ResourceTaskPlain    = "task-orchestrator://tasks/{id}?workspace={+workspace}"
	resourceTaskPrefix   = "task-orchestrator://tasks/"
)

// maxResourceTasks bounds the open-tasks resource; the rest is reachable with task_list.
const maxResourceTasks = 200

// OpenTask is one unfinished task as the open-tasks resource shows it.
type OpenTask struct {
	ID        string   `json:"id"`
	Title     string   `json:"title"`
	Status    string   `json:"status"`
	Priority  string   `json:"priority"`
	Labels    []string `json:"labels"`
	Role      *string  `json:"role,omitempty"`
	Assignee  *string  `json:"assignee,omitempty"`
	ParentID  *string  `json:"parent_id,omitempty"`
	DependsOn []string `json:"depends_on"`
	Version   int64    `json:"version"`
}

// OpenTasksResource is the content of the open-tasks resource.
type OpenTasksResource struct {
	Root  string     `json:"root"`
	Tasks []OpenTask `json:"tasks"`
	// Truncated is set when the project has more open tasks than the resource
	// lists; task_list with a cursor pages through all of them.
	Truncated bool   `json:"truncated"`
	Note      string `json:"note,omitempty"`
}

// Resources returns the resources and resource templates of this server.
func Resources(d *Deps) ([]server.ServerResource, []server.ServerResourceTemplate) {
	openTasks := func(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
		return d.readResource(ctx, req, d.openTasks)
	}
	pools := func(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
		return d.readResource(ctx, req, func(ctx context.Context, root workspace.Root) (any, error) {
			return d.workspacePools(ctx, root.Path), nil
		})
	}
	openDesc := "The project's unfinished tasks (pending, in progress, blocked), oldest first, with their dependencies: what an agent should look at before planning or claiming work."
	poolDesc := "The project's connection pools (SQLite, Chroma, Neo4j) as pool_status shows them. Reading it never opens a pool."
	res := []server.ServerResource{
		{Resource: mcp.NewResource(ResourceOpenTasks, "Open tasks", mcp.WithResourceDescription(openDesc), mcp.WithMIMEType("application/json")), Handler: openTasks},
		{Resource: mcp.NewResource(ResourcePoolStatus, "Pool status", mcp.WithResourceDescription(poolDesc), mcp.WithMIMEType("application/json")), Handler: pools},
	}
	artifact := func(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
		return d.readArtifactResource(ctx, req)
	}
	task := func(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
		id := resourceTaskID(req.Params.URI)
		if id == "open" { // tasks/open?workspace=… may match this template too
			return openTasks(ctx, req)
		}
		return d.readResource(ctx, req, func(ctx context.Context, root workspace.Root) (any, error) {
			if err := checkID("id", id); err != nil {
				return nil, err
			}
			store, _, release, err := d.taskStore(ctx, root)
			if err != nil {
				return nil, err
			}
			defer release()
			return store.Get(ctx, id)
		})
	}
	taskDesc := "One task as task_get returns it: the task with its subtasks, dependencies, dependents and artifacts. Subscribe to it to hear when it changes."
	const wsDesc = " workspace: any absolute path inside the project, URL-encoded."
	const plainDesc = " The same with workspace written plainly: ?workspace=/home/me/project."
	artDesc := fmt.Sprintf("One artifact a task kept (task_complete's artifact; task_get lists them): text as text, anything else base64, the MIME type from the name's extension. Only artifacts recorded with the task are served. A whole read returns at most %d MiB; read a larger one in ranges.", maxWholeArtifact>>20)
	rangeDesc := fmt.Sprintf("A byte range of one artifact: offset (default 0) and length (default and at most %d MiB). _meta tells the artifact's size and sha256, and whether more follows.", maxArtifactRange>>20)
	tpl := []server.ServerResourceTemplate{
		{Template: mcp.NewResourceTemplate(ResourceOpenTasksTemplate, "Open tasks of a project",
			mcp.WithTemplateDescription(openDesc+wsDesc), mcp.WithTemplateMIMEType("application/json")), Handler: openTasks},
		{Template: mcp.NewResourceTemplate(ResourcePoolsTemplate, "Pool status of a project",
			mcp.WithTemplateDescription(poolDesc+wsDesc), mcp.WithTemplateMIMEType("application/json")), Handler: pools},
		{Template: mcp.NewResourceTemplate(ResourceArtifactTemplate, "Task artifact",
			mcp.WithTemplateDescription(artDesc+wsDesc)), Handler: artifact},
		{Template: mcp.NewResourceTemplate(ResourceArtifactRange, "Task artifact, a range",
			mcp.WithTemplateDescription(rangeDesc+wsDesc)), Handler: artifact},
		{Template: mcp.NewResourceTemplate(ResourceTaskTemplate, "Task",
			mcp.WithTemplateDescription(taskDesc+wsDesc), mcp.WithTemplateMIMEType("application/json")), Handler: task},
		{Template: mcp.NewResourceTemplate(ResourceTaskPlain, "Task (plain path)",
			mcp.WithTemplateDescription(taskDesc+plainDesc), mcp.WithTemplateMIMEType("application/json")), Handler: task},
		{Template: mcp.NewResourceTemplate(ResourceOpenTasksPlain, "Open tasks of a project (plain path)",
			mcp.WithTemplateDescription(openDesc+plainDesc), mcp.WithTemplateMIMEType("application/json")), Handler: openTasks},
		{Template: mcp.NewResourceTemplate(ResourcePoolsPlain, "Pool status of a project (plain path)",
			mcp.WithTemplateDescription(poolDesc+plainDesc), mcp.WithTemplateMIMEType("application/json")), Handler: pools},
		{Template: mcp.NewResourceTemplate(ResourceArtifactPlain, "Task artifact (plain path)",
			mcp.WithTemplateDescription(artDesc+plainDesc+" offset and length may follow it.")), Handler: artifact},
	}
	return res, tpl
}

// readResource resolves the project a resource read is about and renders what
// build returns as JSON. Errors name the fix, as tool errors do.
func (d *Deps) readResource(ctx context.Context, req mcp.ReadResourceRequest, build func(context.Context, workspace.Root) (any, error)) ([]mcp.ResourceContents, error) {
	ctx = pooling.WithHolder(ctx, "resource "+req.Params.URI)
	root, err := d.resourceWorkspace(ctx, req)
	if err != nil {
		return nil, d.resourceError(req.Params.URI, "", err)
	}
	out, err := build(ctx, root)
	if err != nil {
		return nil, d.resourceError(req.Params.URI, root.Path, err)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("resource %s: %w", req.Params.URI, err)
	}
	return []mcp.ResourceContents{mcp.TextResourceContents{URI: req.Params.URI, MIMEType: "application/json", Text: string(b)}}, nil
}

// resourceWorkspace resolves the project: the template's workspace, else the
// client's roots (asked on pre-2026 sessions; a 2026-07-28 read carries no
// way to ask, so it falls back like a client without roots), else the
// environment and the working directory.
func (d *Deps) resourceWorkspace(ctx context.Context, req mcp.ReadResourceRequest) (workspace.Root, error) {
	if ws := resourceArg(req, "workspace"); ws != "" {
		return d.Resolver.Resolve(ws, nil)
	}
	var uris []string
	if clientHasRoots(ctx) && !server.IsModernRequest(ctx) {
		var err error
		if uris, err = d.legacyRoots(ctx); err != nil {
			return workspace.Root{}, err
		}
	}
	return d.Resolver.Resolve("", uris)
}

// resourceTaskID is the {id} of a task-orchestrator://tasks/{id} address
// ("" for any other address).
func resourceTaskID(uri string) string {
	rest, ok := strings.CutPrefix(uri, resourceTaskPrefix)
	if !ok {
		return ""
	}
	rest, _, _ = strings.Cut(rest, "?")
	if strings.Contains(rest, "/") {
		return ""
	}
	id, err := url.PathUnescape(rest)
	if err != nil {
		return ""
	}
	return id
}

// resourceArg returns a query variable of the resource's URI. It reads the
// URI itself rather than what mcp-go matched: the template's match gives
// nothing for variables in another order than the template's, and the whole
// rest of the query for a plain workspace. A malformed or repeated variable
// reads as absent here; readers that need strictness use resourceQuery.
func resourceArg(req mcp.ReadResourceRequest, name string) string {
	if q, err := resourceQuery(req.Params.URI); err == nil {
		return strings.TrimSpace(q[name])
	}
	switch v := req.Params.Arguments[name].(type) {
	case string:
		return strings.TrimSpace(v)
	case []string:
		if len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
	}
	return ""
}

// resourceQuery decodes the query of a resource URI as RFC 6570 writes it:
// name=value pairs joined by &, values percent-encoded ("+" is a plus, not
// a space). A plain workspace path (slashes and colons as they are) reads
// the same.
func resourceQuery(uri string) (map[string]string, error) {
	_, query, ok := strings.Cut(uri, "?")
	out := map[string]string{}
	if !ok || query == "" {
		return out, nil
	}
	for pair := range strings.SplitSeq(query, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		val, err := url.PathUnescape(v)
		if err != nil {
			return nil, badArg("the query parameter %q of the resource address is not properly URL-encoded; encode it (%% as %%25, & as %%26)", truncate(k, 40))
		}
		if _, dup := out[k]; dup {
			return nil, badArg("the query parameter %q appears twice in the resource address; give it once", truncate(k, 40))
		}
		out[k] = val
	}
	return out, nil
}

// resourceError turns a failure into an error message an agent can act on,
// with the same sanitizing as tool errors (paths inside root, when known,
// shown relative to it).
func (d *Deps) resourceError(uri, root string, err error) error {
	res := toolErrorIn(d, "resource "+uri, root, err)
	for _, c := range res.Content {
		if t, ok := c.(mcp.TextContent); ok {
			return errors.New(t.Text)
		}
	}
	return fmt.Errorf("reading %s failed", uri)
}

// openTasks lists the project's unfinished tasks. It opens the task store
// (creating .task_orchestrator/ like any task call would).
func (d *Deps) openTasks(ctx context.Context, root workspace.Root) (any, error) {
	store, _, release, err := d.taskStore(ctx, root)
	if err != nil {
		return nil, err
	}
	defer release()
	out := OpenTasksResource{Root: root.Path, Tasks: []OpenTask{}}
	f := work.Filter{Status: []string{"pending", "in_progress", "blocked"}, Limit: maxResourceTasks}
	page, next, err := store.List(ctx, f)
	if err != nil {
		return nil, err
	}
	for _, t := range page {
		out.Tasks = append(out.Tasks, OpenTask{
			ID: t.ID, Title: t.Title, Status: string(t.Status), Priority: t.Priority, Labels: t.Labels,
			Role: t.Role, Assignee: t.Assignee, ParentID: t.ParentID, DependsOn: t.DependsOn, Version: t.Version,
		})
	}
	if next != "" {
		// A cursor only says there may be more: look one task further.
		f.Cursor, f.Limit = next, 1
		more, _, err := store.List(ctx, f)
		if err != nil {
			return nil, err
		}
		out.Truncated = len(more) > 0
	}
	if out.Truncated {
		out.Note = fmt.Sprintf("only the first %d open tasks are listed; page through the rest with task_list (status filter and cursor)", maxResourceTasks)
	}
	return out, nil
}

// Artifact reads: a whole artifact up to maxWholeArtifact, a range up to
// maxArtifactRange (also the range's default length).
const (
	maxWholeArtifact = 16 << 20
	maxArtifactRange = 1 << 20
)

// artifactURIPrefix starts every artifact address.
const artifactURIPrefix = "task-orchestrator://tasks/"

// artifactRequest is what an artifact address asks for.
type artifactRequest struct {
	id, name       string
	offset, length int64
	ranged         bool // offset or length was given
}

// parseArtifactURI reads task-orchestrator://tasks/<id>/artifacts/<name>?...
// from the address itself (see resourceArg), id and name percent-decoded.
func parseArtifactURI(uri string) (artifactRequest, error) {
	var r artifactRequest
	path, _, _ := strings.Cut(strings.TrimPrefix(uri, artifactURIPrefix), "?")
	id, name, ok := strings.Cut(path, "/artifacts/")
	if !strings.HasPrefix(uri, artifactURIPrefix) || !ok {
		return r, badArg("%q is not an artifact address; write task-orchestrator://tasks/<task id>/artifacts/<name>", truncate(uri, 120))
	}
	var err error
	if r.id, err = url.PathUnescape(id); err != nil {
		return r, badArg("the task id in the artifact address is not properly URL-encoded; write it as task_get shows it")
	}
	if r.name, err = url.PathUnescape(name); err != nil {
		return r, badArg("the artifact name in the address is not properly URL-encoded; encode it (a space as %%20, %% as %%25)")
	}
	if err := checkID("id", r.id); err != nil {
		return r, badArg("the task id %q in the artifact address is not a task id (ids look like tsk_0123abcd…; list them with task_list)", truncate(r.id, 80))
	}
	if _, err := workspace.SanitizeArtifactName(r.name); err != nil {
		return r, badArg("the artifact name %q in the address is not one task_complete could have stored; copy the name task_get lists", truncate(r.name, 80))
	}
	q, err := resourceQuery(uri)
	if err != nil {
		return r, err
	}
	num := func(key string, def, lo, hi int64) (int64, error) {
		v, ok := q[key]
		if !ok {
			return def, nil
		}
		r.ranged = true
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < lo || n > hi {
			return 0, badArg("%s=%q in the artifact address must be a whole number from %d to %d", key, truncate(v, 40), lo, hi)
		}
		return n, nil
	}
	if r.offset, err = num("offset", 0, 0, math.MaxInt64); err != nil {
		return r, err
	}
	if r.length, err = num("length", maxArtifactRange, 1, maxArtifactRange); err != nil {
		return r, err
	}
	return r, nil
}

// readArtifactResource serves one artifact, or a range of it, of a task of
// the project: only an artifact recorded in the task's row, read without
// following links, and only while the file still has the recorded size.
func (d *Deps) readArtifactResource(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
	uri := req.Params.URI
	ctx = pooling.WithHolder(ctx, "resource "+uri)
	ar, err := parseArtifactURI(uri)
	if err != nil {
		return nil, d.resourceError(uri, "", err)
	}
	root, err := d.resourceWorkspace(ctx, req)
	if err != nil {
		return nil, d.resourceError(uri, "", err)
	}
	out, err := d.readArtifact(ctx, root, ar, uri)
	if err != nil {
		return nil, d.resourceError(uri, root.Path, err)
	}
	return []mcp.ResourceContents{out}, nil
}

func (d *Deps) readArtifact(ctx context.Context, root workspace.Root, ar artifactRequest, uri string) (mcp.ResourceContents, error) {
	store, layout, release, err := d.taskStore(ctx, root)
	if err != nil {
		return nil, err
	}
	defer release()
	det, err := store.Get(ctx, ar.id)
	if err != nil {
		return nil, err
	}
	var rec *work.ArtifactRecord
	names := make([]string, 0, len(det.Artifacts))
	for i := range det.Artifacts {
		names = append(names, det.Artifacts[i].Name)
		if det.Artifacts[i].Name == ar.name {
			rec = &det.Artifacts[i]
		}
	}
	if rec == nil {
		if len(names) == 0 {
			return nil, badArg("task %s has no artifact %q: it has no artifacts at all (task_complete's artifact stores one)", ar.id, truncate(ar.name, 80))
		}
		return nil, badArg("task %s has no artifact %q; its artifacts are: %s", ar.id, truncate(ar.name, 80), truncate(strings.Join(names, ", "), 400))
	}
	offset, length := int64(0), rec.Size
	if ar.ranged {
		offset, length = ar.offset, ar.length
		if offset >= rec.Size && !(offset == 0 && rec.Size == 0) {
			return nil, badArg("offset %d is past the end of artifact %q of task %s, which is %d bytes; pass an offset from 0 to %d", offset, ar.name, ar.id, rec.Size, max(rec.Size-1, 0))
		}
	} else if rec.Size > maxWholeArtifact {
		return nil, badArg("artifact %q of task %s is %d bytes, more than the %d MiB a whole read returns; read it in ranges: %s?offset=0&length=%d",
			ar.name, ar.id, rec.Size, maxWholeArtifact>>20, strings.SplitN(uri, "?", 2)[0], maxArtifactRange)
	}
	data, total, err := workspace.ArtifactFiles{Layout: layout}.Read(ar.id, ar.name, offset, length)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, badArg("artifact %q of task %s is recorded but its file is gone from %s/artifacts/%s/; it cannot be read back (complete the work again to store it anew)", ar.name, ar.id, workspace.DirName, ar.id)
		}
		return nil, err
	}
	if total != rec.Size {
		return nil, badArg("artifact %q of task %s was changed on disk after it was stored (%d bytes, recorded %d); it is not served: restore the file or store the artifact anew", ar.name, ar.id, total, rec.Size)
	}
	meta := map[string]any{"task_id": ar.id, "name": ar.name, "size": rec.Size, "sha256": rec.SHA256}
	if ar.ranged {
		meta["offset"] = offset
		meta["length"] = int64(len(data))
		meta["more"] = offset+int64(len(data)) < rec.Size
	} else {
		sum := sha256.Sum256(data)
		if hex.EncodeToString(sum[:]) != rec.SHA256 {
			return nil, badArg("artifact %q of task %s was changed on disk after it was stored (its sha256 differs from the recorded one); it is not served: restore the file or store the artifact anew", ar.name, ar.id)
		}
	}
	mimeType := artifactMIME(ar.name, data)
	if isTextMIME(mimeType) && utf8.Valid(data) {
		return mcp.TextResourceContents{Meta: meta, URI: uri, MIMEType: mimeType, Text: string(data)}, nil
	}
	return mcp.BlobResourceContents{Meta: meta, URI: uri, MIMEType: mimeType, Blob: base64.StdEncoding.EncodeToString(data)}, nil
}

// artifactTypes are the MIME types of the usual artifact extensions, so the
// answer does not depend on the machine's mime.types.
var artifactTypes = map[string]string{
	".md": "text/markdown; charset=utf-8", ".markdown": "text/markdown; charset=utf-8",
	".txt": "text/plain; charset=utf-8", ".log": "text/plain; charset=utf-8", ".text": "text/plain; charset=utf-8",
	".csv": "text/csv; charset=utf-8", ".tsv": "text/tab-separated-values; charset=utf-8",
	".json": "application/json", ".jsonl": "application/jsonl", ".ndjson": "application/x-ndjson",
	".yaml": "application/yaml", ".yml": "application/yaml", ".toml": "application/toml",
	".xml": "application/xml", ".html": "text/html; charset=utf-8", ".htm": "text/html; charset=utf-8",
	".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".ts": "text/x-typescript; charset=utf-8",
	".go": "text/x-go; charset=utf-8", ".py": "text/x-python; charset=utf-8", ".sh": "text/x-shellscript; charset=utf-8",
	".sql": "application/sql", ".diff": "text/x-diff; charset=utf-8", ".patch": "text/x-diff; charset=utf-8",
	".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
	".webp": "image/webp", ".pdf": "application/pdf", ".zip": "application/zip", ".gz": "application/gzip",
	".tar": "application/x-tar",
}

// artifactMIME is the MIME type of an artifact: from its extension, else
// text/plain for content that is UTF-8 text, else application/octet-stream.
func artifactMIME(name string, data []byte) string {
	ext := strings.ToLower(filepath.Ext(name))
	if t, ok := artifactTypes[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); ext != "" && t != "" {
		return t
	}
	if utf8.Valid(data) && !bytes.ContainsRune(data, 0) {
		return "text/plain; charset=utf-8"
	}
	return "application/octet-stream"
}

// isTextMIME says whether content of type t is shown as text (when it is
// valid UTF-8; otherwise it goes as a blob whatever its type).
func isTextMIME(t string) bool {
	t, _, _ = strings.Cut(t, ";")
	switch {
	case strings.HasPrefix(t, "text/"):
		return true
	case strings.HasSuffix(t, "+xml"), strings.HasSuffix(t, "+json"):
		return true
	}
	switch t {
	case "application/json", "application/jsonl", "application/x-ndjson", "application/yaml", "application/toml",
		"application/xml", "application/sql", "application/javascript":
		return true
	}
	return false
}

// originalURIKey stashes the address a client sent in the request's
// arguments, between the hooks that rewrite it (the handler's copy of the
// request gets the template's arguments instead).
const originalURIKey = "\x00original-uri"

// HookResourceAddresses lets a resource address carry its query values as a
// person writes them: ?workspace=/home/Jane Doe/Projekt ü, or a plain path
// after offset=. mcp-go picks a template by matching the address as RFC 6570
// writes it, which a space, a non-ASCII letter or a plain path in another
// place than first refuses ("resource not found"); so before it matches, every
// query value is percent-encoded (escapes already there are kept), and the
// contents answer with the address the client sent.
func HookResourceAddresses(hooks *server.Hooks) {
	hooks.AddBeforeReadResource(func(_ context.Context, _ any, req *mcp.ReadResourceRequest) {
		if enc := encodeResourceQuery(req.Params.URI); enc != req.Params.URI {
			req.Params.Arguments = map[string]any{originalURIKey: req.Params.URI}
			req.Params.URI = enc
		}
	})
	hooks.AddAfterReadResource(func(_ context.Context, _ any, req *mcp.ReadResourceRequest, res *mcp.ReadResourceResult) {
		orig, ok := req.Params.Arguments[originalURIKey].(string)
		if !ok || res == nil {
			return
		}
		for i, c := range res.Contents {
			switch c := c.(type) {
			case mcp.TextResourceContents:
				if c.URI == req.Params.URI {
					c.URI = orig
					res.Contents[i] = c
				}
			case mcp.BlobResourceContents:
				if c.URI == req.Params.URI {
					c.URI = orig
					res.Contents[i] = c
				}
			}
		}
	})
}

// encodeResourceQuery percent-encodes, in the query of uri, every byte of a
// value that is not unreserved (RFC 3986: letters, digits, - . _ ~), keeping
// valid %XX escapes as they are; names, the path and a query that needs
// nothing are left alone.
func encodeResourceQuery(uri string) string {
	base, query, ok := strings.Cut(uri, "?")
	if !ok || query == "" || !strings.HasPrefix(base, "task-orchestrator://") {
		return uri
	}
	var b strings.Builder
	b.Grow(len(uri) + 16)
	b.WriteString(base)
	b.WriteByte('?')
	for i, pair := range strings.Split(query, "&") {
		if i > 0 {
			b.WriteByte('&')
		}
		k, v, hasV := strings.Cut(pair, "=")
		b.WriteString(k)
		if !hasV {
			continue
		}
		b.WriteByte('=')
		for j := 0; j < len(v); j++ {
			c := v[j]
			switch {
			case c == '%' && j+2 < len(v) && isHex(v[j+1]) && isHex(v[j+2]):
				b.WriteString(v[j : j+3])
				j += 2
			case c == '%':
				b.WriteByte(c) // a stray %: resourceQuery names it
			case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '.', c == '_', c == '~':
				b.WriteByte(c)
			default:
				fmt.Fprintf(&b, "%%%02X", c)
			}
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
