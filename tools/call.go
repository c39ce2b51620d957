package tools

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/progress"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/pooling"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// maxArgumentBytes bounds one call's arguments (an artifact's content is the largest part).
const maxArgumentBytes = 32 << 20

// clientError is an error whose message is written for the client: one
// sentence (or a short list) saying what is wrong and how to fix it, naming
// files by their project-relative path, with no Go type names, source paths
// or credentials. Any package may implement it; toolError finds it anywhere
// in an error's chain and shows ClientMessage (made project-relative and
// capped at maxClientMessage bytes). The adapters' errors are all one type,
// *clienterr.Error ("kind: msg"); workspace.UnsafeFileError and userError
// are the others. The outermost one in the chain speaks, except that a
// refusal of the project's files always speaks for itself.
type clientError interface {
	error
	ClientMessage() string
}

// userError is the tools' own clientError.
type userError struct{ msg string }

func (e *userError) Error() string         { return e.msg }
func (e *userError) ClientMessage() string { return e.msg }

func badArg(format string, a ...any) error { return &userError{msg: fmt.Sprintf(format, a...)} }

// errNeedRoots tells the wrapper to ask the client for its roots and retry.
var errNeedRoots = errors.New("the client's roots are needed")

// call is one tool call in progress.
type call struct {
	deps *Deps
	req  mcp.CallToolRequest
	name string
	root string // the project root, once resolved: error messages name paths relative to it
}

// handlerFunc is a tool's domain logic: it returns the structured result and a short text.
type handlerFunc[A any] func(ctx context.Context, c *call, args A) (any, string, error)

// handle wraps a tool's logic with argument decoding, panic recovery, workspace
// resolution (including the roots round trip) and error rendering.
func handle[A any](d *Deps, name string, fn handlerFunc[A]) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (result *mcp.CallToolResult, err error) {
		start := time.Now()
		c := &call{deps: d, req: req, name: name}
		ctx = pooling.WithHolder(ctx, name)
		ctx, flushProgress := withProgress(ctx, req)
		defer flushProgress()
		defer func() {
			if r := recover(); r != nil {
				ref := newRef()
				d.logger().Error("tool handler panicked", "tool", name, "ref", ref, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				result, err = mcp.NewToolResultError(fmt.Sprintf("internal error in %s (ref %s): the server logged the details; please report it", name, ref)), nil
			}
		}()
		var args A
		if derr := decodeArgs(req.GetRawArguments(), &args); derr != nil {
			return toolError(d, name, derr), nil
		}
		out, text, ferr := fn(ctx, c, args)
		if errors.Is(ferr, errNeedRoots) {
			return server.NewInputRequestBuilder("").Roots(rootsInputKey).ToolResult(), nil
		}
		if ferr != nil {
			res := toolErrorIn(d, name, c.root, ferr)
			d.ClientLog.called(ctx, name, c.root, ferr, res)
			d.logger().Debug("tool call failed", "tool", name, "ms", time.Since(start).Milliseconds(), "err", ferr)
			return res, nil
		}
		d.ClientLog.called(ctx, name, c.root, nil, nil)
		d.logger().Debug("tool call", "tool", name, "ms", time.Since(start).Milliseconds())
		return render(out, text), nil
	}
}

// render builds structured content plus a text block: the short summary and the JSON,
// so that clients that only read text still get the data. mcp-go encodes
// StructuredContent itself; handing it these bytes as RawStructuredContent
// was tried and costs more on large results (encoding/json compacts raw JSON
// byte by byte: for a 20-task page, 34 % of the server's CPU instead of 17 %).
func render(out any, text string) *mcp.CallToolResult {
	b, err := json.Marshal(out)
	if err != nil {
		return mcp.NewToolResultError("internal error: the result could not be encoded")
	}
	return mcp.NewToolResultStructured(out, text+"\n"+string(b))
}

// argumentBytes is a call's arguments as JSON; none (absent, empty or null)
// is the empty object.
func argumentBytes(raw any) ([]byte, error) {
	var data []byte
	switch v := raw.(type) {
	case nil:
	case json.RawMessage:
		data = v
	case []byte:
		data = v
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		data = b
	}
	if t := bytes.TrimSpace(data); len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return []byte("{}"), nil
	}
	return data, nil
}

// decodeArgs decodes the arguments strictly: unknown fields and wrong types are errors
// that name the argument and say what is expected.
func decodeArgs(raw any, dst any) error {
	data, err := argumentBytes(raw)
	if err != nil {
		return badArg("the arguments could not be read as JSON: %v", err)
	}
	if len(data) > maxArgumentBytes {
		return badArg("the arguments are %d bytes; the limit is %d bytes", len(data), maxArgumentBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return describeDecodeError(err, dst)
	}
	return nil
}

func describeDecodeError(err error, dst any) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			return badArg("the arguments must be a JSON object, not %s", te.Value)
		}
		return badArg("argument %q must be %s, not %s", field, jsonKind(te.Type), te.Value)
	}
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return badArg("unknown argument %s; this tool accepts: %s", rest, strings.Join(argNames(dst), ", "))
	}
	return badArg("the arguments could not be read: %s", strings.TrimPrefix(msg, "json: "))
}

func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return t.String()
}

func argNames(dst any) []string {
	t := reflect.TypeOf(dst)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var names []string
	if t.Kind() != reflect.Struct {
		return nil
	}
	for i := range t.NumField() {
		tag := strings.Split(t.Field(i).Tag.Get("json"), ",")[0]
		if tag != "" && tag != "-" {
			names = append(names, tag)
		}
	}
	sort.Strings(names)
	return names
}

// toolError renders err as a tool error the model can act on. Errors that are not
// written for the client are logged with a reference and replaced by a generic message.
func toolError(d *Deps, tool string, err error) *mcp.CallToolResult {
	return toolErrorIn(d, tool, "", err)
}

// toolErrorIn is toolError for a call about the project at root ("" if not
// known yet): paths inside it are shown relative to it.
func toolErrorIn(d *Deps, tool, root string, err error) *mcp.CallToolResult {
	var unsafe *workspace.UnsafeFileError
	var ce clientError
	var co *pooling.CircuitOpenError
	switch {
	case errors.As(err, &unsafe):
		// A refusal of the project's own files is shown as itself, whatever
		// layer wrapped it (an adapter's "could not open" is less precise).
		return mcp.NewToolResultError(clientText(root, unsafe.ClientMessage()))
	case errors.As(err, &ce):
		if cause := errors.Unwrap(ce); cause != nil {
			d.logger().Debug("client error", "tool", tool, "message", ce.ClientMessage(), "cause", cause)
		}
		return mcp.NewToolResultError(clientText(root, ce.ClientMessage()))
	case errors.As(err, &co):
		return mcp.NewToolResultError(workspace.Redact(co.Error()))
	case errors.Is(err, pooling.ErrTimeout), errors.Is(err, pooling.ErrClosed):
		return mcp.NewToolResultError(workspace.Redact(err.Error()))
	case errors.Is(err, workspace.ErrRefusedRoot), errors.Is(err, workspace.ErrOutsideAllowedRoots), errors.Is(err, workspace.ErrBadPath):
		return mcp.NewToolResultError(capMessage(err.Error()))
	case errors.Is(err, context.Canceled):
		return mcp.NewToolResultError("the call was cancelled before it finished; nothing was changed by the part that did not run")
	case errors.Is(err, context.DeadlineExceeded):
		return mcp.NewToolResultError("the call timed out before it finished; retry, or raise pool_timeout if the project is busy")
	}
	for _, r := range refusals {
		if reasons, total := refusalReasons(err, r.sentinel); total > 0 {
			d.logger().Debug("project refused", "tool", tool, "reasons", total, "first", reasons[0])
			return mcp.NewToolResultError(clientText(root, refusalText(r.lead, reasons, total)))
		}
	}
	var pe *fs.PathError
	if errors.As(err, &pe) && errors.Is(err, fs.ErrPermission) {
		d.logger().Debug("permission denied", "tool", tool, "err", err)
		return mcp.NewToolResultError(clientText(root, fmt.Sprintf("the server may not %s %s (permission denied); give the user running the server access to it", opVerb(pe.Op), pe.Path)))
	}
	ref := newRef()
	d.logger().Error("tool call failed", "tool", tool, "ref", ref, "err", err)
	return mcp.NewToolResultError(fmt.Sprintf("internal error in %s (ref %s): the server logged the details", tool, ref))
}

// opVerb says what a file system operation (fs.PathError.Op) was doing.
func opVerb(op string) string {
	switch op {
	case "open", "openat", "read", "readdir", "stat", "lstat", "fstat", "statat", "readlink":
		return "read"
	case "mkdir", "mkdirat", "create", "write", "chmod", "rename", "remove", "unlinkat", "truncate":
		return "write to"
	}
	return "use"
}

// refusal is a kind of error that is the project's or the user's fault, made
// as fmt.Errorf("%w: <what is wrong and how to fix it>", sentinel, …) or as
// an error type whose Is matches sentinel.
type refusal struct {
	sentinel error
	lead     string // what was refused, before the reasons
}

// refusals are shown to the client with their reasons rather than as an
// internal error. To have a new sentinel's errors reach the client, add it
// here (or give its error type a ClientMessage method).
var refusals = []refusal{
	{workspace.ErrBadLayout, "this project's data folder cannot be used"},
	{workspace.ErrConfigFileRefused, "the project config was refused"},
	{workspace.ErrInvalidConfig, "this project's configuration is not valid, so its databases were not opened; fix it and retry"},
	{workspace.ErrUnsafeArtifactPath, "the artifact was not saved, and the task was not completed"},
	{workspace.ErrArtifactTooLarge, "the artifact was not saved, and the task was not completed"},
	{workspace.ErrBadArtifactName, "the artifact was not saved, and the task was not completed"},
}

// Limits of a message meant for the client: a hostile project (96,000 bad
// keys) must not become a 38 MB tool error.
const (
	maxClientMessage = 4 << 10 // bytes, whole message
	maxReasons       = 10      // reasons listed; the rest are counted
)

// refusalReasons returns the text of each innermost error in err's tree that
// matches sentinel (other than the sentinel itself, which carries no reason),
// without the sentinel's own text: errors.Join of several layout problems
// gives one reason each, and the wrapping the registry adds is dropped. It
// keeps the first maxReasons and counts them all; a *ValidationError's
// violations are read one by one, so 96,000 of them are not first joined
// into one 38 MB string.
func refusalReasons(err, sentinel error) (reasons []string, total int) {
	add := func(line string) {
		if line = strings.TrimPrefix(strings.TrimSpace(line), sentinel.Error()+": "); line == "" {
			return
		}
		if total++; len(reasons) < maxReasons {
			reasons = append(reasons, line)
		}
	}
	var walk func(e error)
	walk = func(e error) {
		if e == nil || e == sentinel || !errors.Is(e, sentinel) {
			return
		}
		var kids []error
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			kids = []error{u.Unwrap()}
		case interface{ Unwrap() []error }:
			kids = u.Unwrap()
		}
		deeper := false
		for _, k := range kids {
			if k != nil && k != sentinel && errors.Is(k, sentinel) {
				deeper = true
				walk(k)
			}
		}
		if deeper {
			return
		}
		if ve, ok := e.(*workspace.ValidationError); ok {
			file := cmp.Or(ve.File, "configuration")
			for _, v := range ve.Violations {
				if total++; len(reasons) < maxReasons {
					reasons = append(reasons, file+": "+v.String())
				}
			}
			total += ve.More // problems the bounded parse counted but did not keep
			return
		}
		for _, line := range strings.Split(e.Error(), "\n") {
			add(line)
		}
	}
	walk(err)
	return reasons, total
}

// refusalText is lead and the reasons: on one line for one reason, else
// listed, with a count of those not shown.
func refusalText(lead string, reasons []string, total int) string {
	if total == 1 {
		return lead + ": " + reasons[0]
	}
	var b strings.Builder
	b.WriteString(lead + ":")
	for _, r := range reasons {
		b.WriteString("\n- " + r)
	}
	if more := total - len(reasons); more > 0 {
		fmt.Fprintf(&b, "\n… and %d more", more)
	}
	return b.String()
}

// clientText makes paths inside root project-relative, masks credentials
// and caps the message.
func clientText(root, msg string) string {
	if root != "" {
		msg = strings.ReplaceAll(msg, root+string(filepath.Separator), "")
	}
	msg = absDataPath.ReplaceAllString(msg, workspace.DirName)
	return capMessage(workspace.Redact(msg))
}

// absDataPath is an absolute path to a project's data folder, for messages
// about a project whose root the call does not know.
var absDataPath = regexp.MustCompile(`(?:[A-Za-z]:)?[/\\](?:[^\s"'/\\:;,()]+[/\\])*` + regexp.QuoteMeta(workspace.DirName) + `\b`)

// capMessage cuts msg to maxClientMessage bytes on a character boundary.
func capMessage(msg string) string {
	if len(msg) <= maxClientMessage {
		return msg
	}
	const more = " … (cut: the message was too long)"
	cut := maxClientMessage - len(more)
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + more
}

// withProgress lets adapters report progress (a managed server starting, a long
// batch) as notifications/progress, when the client asked for them with a
// progress token. The handler defers the flush it returns: over Streamable
// HTTP it waits until the notifications sent are on their way, since mcp-go
// drops the ones still queued when the handler returns (see awaitForwarder);
// the last one (a rebuild done) is sent just before the answer.
func withProgress(ctx context.Context, req mcp.CallToolRequest) (context.Context, func()) {
	if req.Params.Meta == nil || req.Params.Meta.ProgressToken == nil {
		return ctx, func() {}
	}
	token := req.Params.Meta.ProgressToken
	srv := server.ServerFromContext(ctx)
	if srv == nil {
		return ctx, func() {}
	}
	var (
		mu   sync.Mutex
		last = 0.0
		sent bool
	)
	flush := func() {
		mu.Lock()
		was := sent
		mu.Unlock()
		if session := server.ClientSessionFromContext(ctx); was && session != nil {
			awaitForwarder(session)
		}
	}
	return progress.With(ctx, func(message string, done, total float64) {
		mu.Lock()
		// Progress must increase with every notification.
		if done <= last {
			done = last + 0.001
		}
		last = done
		mu.Unlock()
		params := map[string]any{"progressToken": token, "progress": done, "message": message}
		if total > 0 {
			params["total"] = total
		}
		if srv.SendNotificationToClient(ctx, string(mcp.MethodNotificationProgress), params) == nil {
			mu.Lock()
			sent = true
			mu.Unlock()
		}
	}), flush
}

func newRef() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// logAttrs is a helper for handlers that want to log with the tool's name.
func (c *call) log() *slog.Logger { return c.deps.logger().With("tool", c.name) }
