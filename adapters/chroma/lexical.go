package chroma

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/amikos-tech/chroma-go/pkg/embeddings"
)

// The lexical provider is the classic hashing vectorizer: texts that share
// words, or pieces of words, get near vectors. It knows nothing of meaning
// ("sign-in fails" is not near "login crash"), but an exact or near-exact
// title finds its document first. It is pure Go, deterministic, offline.
//
// A text becomes a vector in four steps:
//  1. normalise: lower case; runs of Unicode letters and digits are words,
//     everything else separates them; a short list of English function
//     words ("the", "of", "to"…) is dropped.
//  2. features: each word ("w:" + word), and the character 3-grams of the
//     word with boundary marks ("<login>" gives "<lo", "log", "ogi", "gin",
//     "in>"), so that "deploy" and "deployment" share most features.
//  3. hash: FNV-1a (64 bits) of each feature picks a dimension (modulo D)
//     and a sign (the top bit), so that collisions cancel out on average
//     instead of adding up.
//  4. weight: sublinear term frequency (1 + ln tf); a word counts
//     lexicalWordWeight, the 3-grams of one word together count
//     lexicalGramWeight (each gram 1/sqrt(n) of it, so long words do not
//     outweigh short ones); the vector is L2-normalised, so Chroma's
//     cosine distance compares texts, not lengths.
//
// Changing any of this changes the vectors: a new version gets a new label.
const (
	labelLexical      = "lexical-v1"
	lexicalWordWeight = 1.0
	lexicalGramWeight = 0.6
	lexicalGramSize   = 3
	// lexicalNoWords is the one feature of a text without any word, so
	// that its vector is not zero (a zero vector has no cosine).
	lexicalNoWords = "\x00empty"
)

// labelHashV0 is the label of collections embedded by the provider called
// hash before lexical-v1: chroma-go's consistent hash of the whole text.
// Its vectors cannot be compared with anything, so those collections are
// refused and must be re-embedded.
const labelHashV0 = labelHash

// lexicalStopWords are English function words: frequent, and in a title
// or a query they carry no topic. Dropping them keeps "how do we fix the
// login" from being near every other text that has "the" in it.
var lexicalStopWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`a an the and or but of to in on at by for with from into as is are was were be been
		it its this that these those do does did we our you your i my how what when where which who why can should
		would will not no so if then than there their they them he she his her has have had about`) {
		lexicalStopWords[w] = true
	}
}

// lexicalWords normalises text into its words: lower case, split on every
// rune that is neither a Unicode letter nor a digit, function words dropped.
func lexicalWords(text string) []string {
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	out := words[:0]
	for _, w := range words {
		if !lexicalStopWords[w] {
			out = append(out, w)
		}
	}
	return out
}

// lexicalGrams returns the character n-grams of a word with boundary marks;
// a word shorter than n-2 runes gives its one marked form.
func lexicalGrams(word string, n int) []string {
	marked := []rune("<" + word + ">")
	if len(marked) <= n {
		return []string{string(marked)}
	}
	out := make([]string, 0, len(marked)-n+1)
	for i := 0; i+n <= len(marked); i++ {
		out = append(out, string(marked[i:i+n]))
	}
	return out
}

// fnv1a is 64-bit FNV-1a over the bytes of s.
func fnv1a(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// lexicalVector is the lexical embedding of text in dims dimensions.
//
// It computes what the four steps above describe without a string per
// feature: every occurrence of a feature ("w:" + word, "g:" + gram) is
// written into one buffer, converted to a string once, and named by its
// place there; each feature's weight is summed over its occurrences in text
// order, and the features are added to their dimensions in sorted order: the
// same float operations in the same order as a map of feature strings, so
// the same vector to the bit.
func lexicalVector(text string, dims int) []float32 {
	if dims <= 0 {
		dims = defaultHashDimensions
	}
	words := lexicalWords(text)
	type occurrence struct {
		at, end int32 // the feature's bytes in buf
		w       float64
	}
	var (
		buf   = make([]byte, 0, 8*len(text)+16)
		occs  = make([]occurrence, 0, 6*len(words))
		runes []rune
	)
	add := func(at int, w float64) { occs = append(occs, occurrence{int32(at), int32(len(buf)), w}) }
	for _, w := range words {
		at := len(buf)
		buf = append(append(buf, "w:"...), w...)
		add(at, lexicalWordWeight)
		// The word with boundary marks, as runes: its n-grams (lexicalGrams).
		runes = append(append(append(runes[:0], '<'), []rune(w)...), '>')
		n := lexicalGramSize
		grams := 1
		if len(runes) > n {
			grams = len(runes) - n + 1
		} else {
			n = len(runes)
		}
		each := lexicalGramWeight / math.Sqrt(float64(grams))
		for i := 0; i < grams; i++ {
			at := len(buf)
			buf = append(buf, "g:"...)
			for _, r := range runes[i : i+n] {
				buf = utf8.AppendRune(buf, r)
			}
			add(at, each)
		}
	}
	type feature struct {
		name string
		w    float64
	}
	var features []feature
	if len(occs) == 0 {
		features = []feature{{lexicalNoWords, 1}}
	} else {
		all := string(buf)
		index := make(map[string]int, len(occs))
		features = make([]feature, 0, len(occs))
		for _, o := range occs {
			name := all[o.at:o.end]
			if i, ok := index[name]; ok {
				features[i].w += o.w
			} else {
				index[name] = len(features)
				features = append(features, feature{name, o.w})
			}
		}
		// In a fixed order: float sums in map order could differ in the last bit.
		slices.SortFunc(features, func(a, b feature) int { return strings.Compare(a.name, b.name) })
	}
	acc := make([]float64, dims)
	for _, f := range features {
		// Sublinear in the number of occurrences: a feature's weight w is
		// occurrences × unit weight, so compare with one occurrence's.
		h := fnv1a(f.name)
		i := int(h % uint64(dims))
		v := sublinear(f.w)
		if h>>63 == 1 {
			v = -v
		}
		acc[i] += v
	}
	var norm float64
	for _, x := range acc {
		norm += x * x
	}
	out := make([]float32, dims)
	if norm == 0 { // every feature cancelled out in one dimension: vanishingly rare
		out[int(fnv1a(lexicalNoWords)%uint64(dims))] = 1
		return out
	}
	norm = math.Sqrt(norm)
	for i, x := range acc {
		out[i] = float32(x / norm)
	}
	return out
}

// sublinear damps repeated features: weight w stays as is up to one unit,
// above it grows as 1 + ln w (a word said five times is not five times the topic).
func sublinear(w float64) float64 {
	if w <= 1 {
		return w
	}
	return 1 + math.Log(w)
}

// lexicalEF is the lexical provider as a chroma-go embedding function.
type lexicalEF struct{ dims int }

func (l lexicalEF) EmbedDocuments(ctx context.Context, texts []string) ([]embeddings.Embedding, error) {
	out := make([]embeddings.Embedding, len(texts))
	for i, t := range texts {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		out[i] = embeddings.NewEmbeddingFromFloat32(lexicalVector(t, l.dims))
	}
	return out, nil
}

func (l lexicalEF) EmbedQuery(_ context.Context, text string) (embeddings.Embedding, error) {
	return embeddings.NewEmbeddingFromFloat32(lexicalVector(text, l.dims)), nil
}

func (lexicalEF) Name() string { return "task_orchestrator_" + labelLexical }
func (l lexicalEF) GetConfig() embeddings.EmbeddingFunctionConfig {
	return embeddings.EmbeddingFunctionConfig{"dim": l.dims}
}
func (lexicalEF) DefaultSpace() embeddings.DistanceMetric { return embeddings.COSINE }
func (lexicalEF) SupportedSpaces() []embeddings.DistanceMetric {
	return []embeddings.DistanceMetric{embeddings.COSINE, embeddings.IP}
}

// oldHashMessage refuses a collection embedded by the old hash provider:
// it cannot be queried or extended by anything today (the provider that
// made it is gone), so the only step is to re-embed it.
func oldHashMessage(name, label string) string {
	return fmt.Sprintf("collection %q holds vectors from the old hash provider (a hash of the whole text, retired: "+
		"\"hash\" in the config now means lexical, recorded as %s), and the configured embedding provider is %s: "+
		"re-embed it (vector_drop_collection, then upsert the documents again; a task mirror is rebuilt by "+
		"task_reconcile with mirror \"vector\")", name, labelLexical, label)
}
