package workspace

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ConfigSyntaxError is a config file that is not valid JSON.
type ConfigSyntaxError struct {
	File         string
	Line, Column int // 1-based; Column counts characters
	Msg          string
}

func (e *ConfigSyntaxError) Error() string {
	return fmt.Sprintf("%s: line %d, column %d: %s; fix the JSON syntax", e.File, e.Line, e.Column, e.Msg)
}

// Is makes errors.Is(err, ErrInvalidConfig) true.
func (e *ConfigSyntaxError) Is(target error) bool { return target == ErrInvalidConfig }

// decodeOnto overlays the JSON object in data onto *dst: keys present
// replace values, keys absent leave them. Before touching dst it checks the
// document's whole shape against dst's type, so one *ValidationError lists
// every unknown, refused, repeated or mistyped key with its line and column
// (encoding/json would stop at the first, match keys case-insensitively and
// say nothing about where). project marks the untrusted project file, whose
// top-level keys other than dst's are refused rather than merely unknown.
// An empty (all-whitespace) file sets nothing.
func decodeOnto(dst any, data []byte, file string, project bool) error {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // editors on Windows add a BOM
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	// Unmarshal checks the whole document first, so its offsets are absolute.
	if err := json.Unmarshal(data, new(json.RawMessage)); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col := lineCol(data, int(se.Offset)-1)
			return &ConfigSyntaxError{File: file, Line: line, Column: col, Msg: se.Error()}
		}
		return fmt.Errorf("%s: %w", file, err)
	}

	sc := &shapeChecker{data: data, dec: json.NewDecoder(bytes.NewReader(data)), project: project}
	sc.dec.UseNumber()
	if err := sc.document(reflect.TypeOf(dst).Elem()); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if len(sc.vs) > 0 {
		return &ValidationError{File: file, Violations: sc.vs}
	}

	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields() // belt and braces: the shape check already refused them
	if err := dec.Decode(dst); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	return nil
}

// shapeChecker walks a syntactically valid document with a token decoder,
// comparing each key and value with the Go type it will be decoded into.
type shapeChecker struct {
	data    []byte
	dec     *json.Decoder
	project bool
	vs      []Violation
}

// next returns the offset where the next token starts.
func (c *shapeChecker) next() int {
	i := int(c.dec.InputOffset())
	for i < len(c.data) {
		switch c.data[i] {
		case ' ', '\t', '\r', '\n', ',', ':':
			i++
		default:
			return i
		}
	}
	return i
}

func (c *shapeChecker) add(path string, at int, rule string) {
	line, col := lineCol(c.data, at)
	c.vs = append(c.vs, Violation{Path: path, Rule: rule, Line: line, Column: col})
}

func (c *shapeChecker) document(t reflect.Type) error {
	at := c.next()
	if c.data[at] != '{' {
		c.add("(top level)", at, `must be a JSON object, like {"database_pools": {"vector": {"max_connections": 10}}}`)
		return nil
	}
	if _, err := c.dec.Token(); err != nil {
		return err
	}
	return c.object(t, "")
}

// object checks the members of an object whose '{' has been read, and reads its '}'.
func (c *shapeChecker) object(t reflect.Type, path string) error {
	fields, names := jsonFields(t)
	seen := make(map[string]bool, len(names))
	for c.dec.More() {
		at := c.next()
		tok, err := c.dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		keyPath := key
		if path != "" {
			keyPath = path + "." + key
		}
		ft, known := fields[key]
		switch {
		case seen[key]:
			c.add(keyPath, at, "appears more than once; keep one")
			known = false
		case !known && c.project && path == "":
			c.add(keyPath, at, "not allowed in a project config (set it in the global config or environment); a project config may only set "+strings.Join(names, ", "))
		case !known:
			c.add(keyPath, at, "unknown key; "+suggest(key, names))
		}
		seen[key] = true
		if !known {
			if err := c.dec.Decode(new(json.RawMessage)); err != nil {
				return err
			}
			continue
		}
		if err := c.value(ft, keyPath, at); err != nil {
			return err
		}
	}
	_, err := c.dec.Token() // '}'
	return err
}

func (c *shapeChecker) value(t reflect.Type, path string, keyAt int) error {
	if t.Kind() == reflect.Struct && c.data[c.next()] == '{' {
		if _, err := c.dec.Token(); err != nil {
			return err
		}
		return c.object(t, path)
	}
	var raw json.RawMessage
	if err := c.dec.Decode(&raw); err != nil {
		return err
	}
	if want := mismatch(t, raw); want != "" {
		c.add(path, keyAt, want+", not "+jsonKind(raw))
	}
	return nil
}

var secondsType = reflect.TypeFor[Seconds]()

// mismatch says what t needs when raw cannot be decoded into it, or "".
func mismatch(t reflect.Type, raw json.RawMessage) string {
	s := string(raw)
	if t.Kind() == reflect.Pointer {
		if s == "null" {
			return ""
		}
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		return "must be an object"
	case reflect.Bool:
		if s != "true" && s != "false" {
			return "must be true or false"
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if _, err := strconv.ParseInt(s, 10, t.Bits()); err != nil {
			return "must be a whole number"
		}
	case reflect.Float32, reflect.Float64:
		if raw[0] == '"' || raw[0] == '{' || raw[0] == '[' || raw[0] == 't' || raw[0] == 'f' || raw[0] == 'n' {
			if t == secondsType {
				return "must be a number of seconds"
			}
			return "must be a number"
		}
	case reflect.String:
		if raw[0] != '"' {
			return "must be a string"
		}
	}
	return ""
}

func jsonKind(raw json.RawMessage) string {
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "the number " + string(raw)
}

// jsonFields maps the JSON names of struct type t to their types; names keeps declaration order.
func jsonFields(t reflect.Type) (map[string]reflect.Type, []string) {
	fields := make(map[string]reflect.Type, t.NumField())
	var names []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields[name] = f.Type
		names = append(names, name)
	}
	return fields, names
}

// suggest names the closest known key, or lists them all.
func suggest(key string, names []string) string {
	best, bestDist := "", 3 // only suggest within two edits
	for _, n := range names {
		if d := editDistance(strings.ToLower(key), n); d < bestDist {
			best, bestDist = n, d
		}
	}
	if best != "" {
		return fmt.Sprintf("did you mean %q?", best)
	}
	return "known keys here: " + strings.Join(names, ", ")
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// lineCol converts a byte offset into a 1-based line and character column.
func lineCol(data []byte, off int) (line, col int) {
	off = max(0, min(off, len(data)))
	before := data[:off]
	lineStart := bytes.LastIndexByte(before, '\n') + 1
	return bytes.Count(before, []byte{'\n'}) + 1, utf8.RuneCount(before[lineStart:]) + 1
}
