package chroma

import (
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strings"

	v2 "github.com/amikos-tech/chroma-go/pkg/api/v2"
)

const nameRule = "Chroma's rule for collection names: 3 to 512 characters from a-z, A-Z, 0-9, '.', '_' and '-', " +
	"starting and ending with a letter or digit, without \"..\", and not an IPv4 address (for example \"project-notes\")"

// validateCollection checks a collection name against Chroma's rule, so a bad
// name is refused with the rule instead of with the server's terse message.
func validateCollection(name string) error {
	problem := ""
	switch {
	case name == "":
		problem = "it is empty"
	case len(name) < 3:
		problem = fmt.Sprintf("it is %d character(s) long", len(name))
	case len(name) > 512:
		problem = fmt.Sprintf("it is %d characters long", len(name))
	case !isAlnum(name[0]) || !isAlnum(name[len(name)-1]):
		problem = "it must start and end with a letter or digit"
	case strings.Contains(name, ".."):
		problem = "it contains \"..\""
	default:
		for i := 0; i < len(name); i++ {
			if c := name[i]; !isAlnum(c) && c != '.' && c != '_' && c != '-' {
				problem = fmt.Sprintf("it contains %q", string(rune(c)))
				if c >= 128 {
					problem = "it contains a non-ASCII character"
				}
				break
			}
		}
		if problem == "" {
			if a, err := netip.ParseAddr(name); err == nil && a.Is4() {
				problem = "it is an IPv4 address"
			}
		}
	}
	if problem == "" {
		return nil
	}
	shown := name
	if len(shown) > 80 {
		shown = shown[:80] + "…"
	}
	return invalid("collection", "collection name %q is not valid: %s. %s", shown, problem, nameRule)
}

// validateIDs checks ids for Get and Delete and returns them without duplicates, in order.
func validateIDs(field string, ids []string) ([]v2.DocumentID, error) {
	seen := make(map[string]bool, len(ids))
	out := make([]v2.DocumentID, 0, len(ids))
	for i, id := range ids {
		if err := checkID(fmt.Sprintf("%s[%d]", field, i), id); err != nil {
			return nil, err
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, v2.DocumentID(id))
		}
	}
	return out, nil
}

func checkID(field, id string) error {
	switch {
	case strings.TrimSpace(id) == "":
		return invalid(field, "%s is empty: every document needs a non-empty id", field)
	case len(id) > MaxIDLength:
		return invalid(field, "%s is %d bytes long; ids may be at most %d bytes", field, len(id), MaxIDLength)
	}
	return nil
}

// batch is an Upsert after validation: columns ready for chroma-go.
type batch struct {
	ids       []v2.DocumentID
	texts     []string
	metadatas []v2.DocumentMetadata // nil when no document has metadata
	vectors   [][]float32           // the caller's, or nil
	withText  int                   // documents that have text
}

// validateDocs checks every document of an Upsert before anything is sent:
// ids, the text/embedding rule, metadata types and vector lengths.
func validateDocs(docs []Document) (*batch, error) {
	switch {
	case len(docs) == 0:
		return nil, invalid("documents", "documents is empty: send at least one {\"id\": \"...\", \"text\": \"...\"}")
	case len(docs) > MaxUpsert:
		return nil, invalid("documents", "this call has %d documents; at most %d are accepted per call "+
			"(they are split into server-sized batches automatically): send the rest in further calls", len(docs), MaxUpsert)
	}
	b := &batch{
		ids:   make([]v2.DocumentID, len(docs)),
		texts: make([]string, len(docs)),
	}
	seen := make(map[string]int, len(docs))
	withVec, dims, dimsFrom := 0, 0, 0
	anyMeta := false
	for i, d := range docs {
		field := fmt.Sprintf("documents[%d]", i)
		if err := checkID(field+".id", d.ID); err != nil {
			return nil, err
		}
		if j, dup := seen[d.ID]; dup {
			return nil, invalid(field+".id", "documents[%d] and documents[%d] have the same id %q: ids must be unique within a call", j, i, d.ID)
		}
		seen[d.ID] = i
		b.ids[i] = v2.DocumentID(d.ID)
		b.texts[i] = d.Text
		if strings.TrimSpace(d.Text) != "" {
			b.withText++
		}
		if len(d.Embedding) > 0 {
			withVec++
			if dims == 0 {
				dims, dimsFrom = len(d.Embedding), i
			} else if len(d.Embedding) != dims {
				return nil, &Error{Kind: KindDimension, Field: field + ".embedding", Msg: fmt.Sprintf(
					"documents[%d].embedding has %d dimensions but documents[%d].embedding has %d: all vectors of a call "+
						"(and of a collection) must have the same length", i, len(d.Embedding), dimsFrom, dims)}
			}
			for k, x := range d.Embedding {
				if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
					return nil, invalid(field+".embedding", "%s.embedding[%d] is not a finite number", field, k)
				}
			}
		} else if strings.TrimSpace(d.Text) == "" {
			return nil, invalid(field, "%s (id %q) has neither text nor embedding: send \"text\", \"embedding\" or both", field, d.ID)
		}
		if len(d.Metadata) > 0 {
			anyMeta = true
			if _, err := toMetadata(field+".metadata", d.Metadata); err != nil {
				return nil, err
			}
		}
	}
	if withVec > 0 && withVec < len(docs) {
		missing := 0
		for i, d := range docs {
			if len(d.Embedding) == 0 {
				missing = i
				break
			}
		}
		return nil, invalid(fmt.Sprintf("documents[%d].embedding", missing),
			"%d of %d documents have an embedding but documents[%d] has none: when you send embeddings, send one "+
				"for every document (or none, to have the configured provider embed the text)", withVec, len(docs), missing)
	}
	if withVec > 0 {
		b.vectors = make([][]float32, len(docs))
		for i, d := range docs {
			b.vectors[i] = d.Embedding
		}
	}
	if anyMeta {
		b.metadatas = make([]v2.DocumentMetadata, len(docs))
		for i, d := range docs {
			if len(d.Metadata) > 0 {
				b.metadatas[i], _ = toMetadata("", d.Metadata) // validated above
			}
		}
	}
	return b, nil
}

// toMetadata converts one document's metadata: keys non-empty and not
// starting with '#' or '$' (Chroma reserves them), values strings, finite
// numbers or booleans. Whole numbers are stored as integers.
func toMetadata(field string, m map[string]any) (v2.DocumentMetadata, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	md := v2.NewDocumentMetadata()
	for _, k := range keys {
		f := field + "." + k
		if err := checkField(f, k); err != nil {
			return nil, err
		}
		switch v := m[k].(type) {
		case string:
			md.SetString(k, v)
		case bool:
			md.SetBool(k, v)
		case nil:
			return nil, invalid(f, "%s is null: metadata values must be a string, a number or a boolean (leave the key out instead)", f)
		default:
			n, ok := number(v)
			if !ok {
				return nil, invalid(f, "%s is a %s: metadata values must be a string, a number or a boolean "+
					"(store lists and objects as a JSON string)", f, jsonKind(v))
			}
			if math.IsNaN(n.f) || math.IsInf(n.f, 0) {
				return nil, invalid(f, "%s is not a finite number", f)
			}
			if n.isInt {
				md.SetInt(k, n.i)
			} else {
				md.SetFloat(k, n.f)
			}
		}
	}
	return md, nil
}

// checkField checks a metadata key (in a document or a where filter).
func checkField(field, key string) error {
	switch {
	case strings.TrimSpace(key) == "":
		return invalid(field, "a metadata key is empty")
	case strings.HasPrefix(key, "#") || strings.HasPrefix(key, "$"):
		return invalid(field, "metadata key %q starts with %q, which Chroma reserves: rename it", key, key[:1])
	case len(key) > 256:
		return invalid(field, "metadata key %q… is %d bytes long; keys may be at most 256 bytes", key[:32], len(key))
	}
	return nil
}

// num is a JSON number classified: whole numbers that fit an int64 are ints.
type num struct {
	isInt bool
	i     int64
	f     float64
}

func number(v any) (num, bool) {
	switch x := v.(type) {
	case float64:
		return floatNum(x), true
	case float32:
		return floatNum(float64(x)), true
	case int:
		return num{isInt: true, i: int64(x), f: float64(x)}, true
	case int32:
		return num{isInt: true, i: int64(x), f: float64(x)}, true
	case int64:
		return num{isInt: true, i: x, f: float64(x)}, true
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return num{isInt: true, i: i, f: float64(i)}, true
		}
		f, err := x.Float64()
		if err != nil {
			return num{}, false
		}
		return floatNum(f), true
	}
	return num{}, false
}

func floatNum(f float64) num {
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return num{isInt: true, i: int64(f), f: f}
	}
	return num{f: f}
}

// jsonKind names the JSON type of a decoded value for messages.
func jsonKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "list"
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	}
	if _, ok := number(v); ok {
		return "number"
	}
	return fmt.Sprintf("%T", v)
}
