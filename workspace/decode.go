package workspace

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ConfigSyntaxError is a config file that is not valid JSON. It reaches
// callers inside the *ValidationError that reports it (errors.As finds it).
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

// Bounds on a config file's structure, checked by one linear scan before it
// is parsed: a real configuration is 3 levels deep and has fewer than 80 keys.
const (
	MaxConfigDepth = 8
	MaxConfigKeys  = 256
)

// keyPositions maps the dotted path of each known key a file sets to its
// line and column, so a rule broken by a value can point at it.
type keyPositions map[string][2]int

// locate fills in the line and column of violations found on the merged
// configuration whose key the file set.
func (kp keyPositions) locate(vs []Violation) {
	for i := range vs {
		if p, ok := kp[vs[i].Path]; ok && vs[i].Line == 0 {
			vs[i].Line, vs[i].Column = p[0], p[1]
		}
	}
}

// decodeOnto overlays the JSON object in data onto *dst: keys present
// replace values, keys absent leave them. Before touching dst it checks the
// document's size and shape: first its depth and key count in one scan that
// stops at the first bound passed, then its syntax, then every key and value
// against dst's type, so one *ValidationError lists the unknown, refused,
// repeated or mistyped keys with their line and column (encoding/json would
// stop at the first, match keys case-insensitively and say nothing about
// where); past MaxReportedProblems it only counts them. Every step is linear
// in the size of data. file is the name errors give the file. project marks
// the untrusted project file, whose top-level keys other than dst's are
// refused rather than merely unknown. An empty (all-whitespace) file sets nothing.
func decodeOnto(dst any, data []byte, file string, project bool) (keyPositions, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // editors on Windows add a BOM
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	if rule, at := checkBounds(data); rule != "" {
		line, col := lineCol(data, at)
		return nil, &ValidationError{File: file, Violations: []Violation{{Rule: rule, Line: line, Column: col}}, cause: ErrConfigFileRefused}
	}
	// Unmarshal checks the whole document first, so its offsets are absolute.
	if err := json.Unmarshal(data, new(json.RawMessage)); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col := lineCol(data, int(se.Offset)-1)
			cse := &ConfigSyntaxError{File: file, Line: line, Column: col, Msg: se.Error()}
			msg := fmt.Sprintf("line %d, column %d: %s; fix the JSON syntax", line, col, se.Error())
			return nil, &ValidationError{File: file, Violations: []Violation{{Rule: msg}}, cause: cse}
		}
		return nil, &ValidationError{File: file, Violations: []Violation{{Rule: "is not valid JSON; fix its syntax"}}}
	}

	sc := &shapeChecker{data: data, dec: json.NewDecoder(bytes.NewReader(data)), project: project,
		pos: lineCounter{data: data, line: 1, col: 1}, keys: keyPositions{}}
	sc.dec.UseNumber()
	if err := sc.document(reflect.TypeOf(dst).Elem()); err != nil {
		// The document parsed above, so this is not the file's fault; say so without the decoder's words.
		return nil, &ValidationError{File: file, Violations: []Violation{{Rule: "could not be read as a configuration; check that it is a JSON object of settings"}}}
	}
	if len(sc.vs) > 0 {
		return nil, &ValidationError{File: file, Violations: sc.vs, More: sc.more}
	}

	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields() // belt and braces: the shape check already refused them
	if err := dec.Decode(dst); err != nil {
		// The shape check admits only what decodes; never show the decoder's
		// message, which names Go types.
		return nil, &ValidationError{File: file, Violations: []Violation{{Rule: "holds a value of the wrong type; check each setting against docs/users/configuration-reference.md"}}}
	}
	return sc.keys, nil
}

// checkBounds scans data once and returns the first structural bound it
// passes (nesting deeper than MaxConfigDepth, more than MaxConfigKeys keys)
// and where, or "". Outside strings, '{' and '[' open a level and every ':'
// ends a key; malformed JSON is left for the parser to report.
func checkBounds(data []byte) (rule string, at int) {
	depth, keys := 0, 0
	inString, escaped := false, false
	for i, b := range data {
		if inString {
			switch {
			case escaped:
				escaped = false
			case b == '\\':
				escaped = true
			case b == '"':
				inString = false
			}
			continue
		}
		switch b {
		case '"':
			inString = true
		case '{', '[':
			if depth++; depth > MaxConfigDepth {
				return fmt.Sprintf("nests objects or arrays more than %d levels deep here; settings are at most 3 levels deep (database_pools.vector.max_connections), so this is not a configuration file", MaxConfigDepth), i
			}
		case '}', ']':
			depth--
		case ':':
			if keys++; keys > MaxConfigKeys {
				return fmt.Sprintf("has more than %d keys (the next one is here); all the settings together are fewer than 80, so this is not a configuration file: keep only the settings you change", MaxConfigKeys), i
			}
		}
	}
	return "", 0
}

// shapeChecker walks a syntactically valid document with a token decoder,
// comparing each key and value with the Go type it will be decoded into.
type shapeChecker struct {
	data    []byte
	dec     *json.Decoder
	project bool
	vs      []Violation // the first MaxReportedProblems
	more    int         // problems found beyond vs
	pos     lineCounter
	keys    keyPositions
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

func (c *shapeChecker) add(path string, at int, rule func() string) {
	if len(c.vs) >= MaxReportedProblems {
		c.more++
		return
	}
	line, col := c.pos.at(at)
	c.vs = append(c.vs, Violation{Path: path, Rule: rule(), Line: line, Column: col})
}

// rule wraps a fixed message for add.
func rule(s string) func() string { return func() string { return s } }

func (c *shapeChecker) document(t reflect.Type) error {
	at := c.next()
	if c.data[at] != '{' {
		c.add("(top level)", at, rule(`must be a JSON object, like {"database_pools": {"vector": {"max_connections": 10}}}`))
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
			c.add(keyPath, at, rule("appears more than once; keep one"))
			known = false
		case !known && c.project && path == "":
			c.add(keyPath, at, rule("not allowed in a project config (set it in the global config or environment); a project config may only set "+strings.Join(names, ", ")))
		case !known:
			c.add(keyPath, at, func() string { return "unknown key; " + suggest(key, names) })
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
		c.add(path, keyAt, func() string { return want + ", not " + jsonKind(raw) })
		return nil
	}
	line, col := c.pos.at(keyAt)
	c.keys[path] = [2]int{line, col}
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
			if errors.Is(err, strconv.ErrRange) {
				return "must be a whole number in the setting's range"
			}
			return "must be a whole number"
		}
	case reflect.Float32, reflect.Float64:
		want := "must be a number"
		if t == secondsType {
			want = "must be a number of seconds"
		}
		if raw[0] == '"' || raw[0] == '{' || raw[0] == '[' || raw[0] == 't' || raw[0] == 'f' || raw[0] == 'n' {
			return want
		}
		if f, err := strconv.ParseFloat(s, t.Bits()); err != nil || math.IsInf(f, 0) {
			return want + " in the setting's range"
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
	return "the number " + clip(string(raw), maxShownKey)
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
		if len(key)-len(n) >= bestDist || len(n)-len(key) >= bestDist {
			continue // the distance is at least the difference in length; a long key costs nothing
		}
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
	c := lineCounter{data: data, line: 1, col: 1}
	return c.at(off)
}

// lineCounter turns increasing byte offsets into lines and columns, reading
// each byte once however many offsets are asked for (asking for each
// violation's position from the start of the file was quadratic).
type lineCounter struct {
	data      []byte
	off       int // bytes counted so far
	line, col int // position of data[off]
}

func (c *lineCounter) at(off int) (line, col int) {
	off = max(0, min(off, len(c.data)))
	if off < c.off {
		c.off, c.line, c.col = 0, 1, 1
	}
	for ; c.off < off; c.off++ {
		switch b := c.data[c.off]; {
		case b == '\n':
			c.line, c.col = c.line+1, 1
		case utf8.RuneStart(b):
			c.col++
		}
	}
	return c.line, c.col
}
