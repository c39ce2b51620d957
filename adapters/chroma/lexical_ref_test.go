package chroma

import (
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
)

// lexicalVectorRef is lexicalVector as it was first written (a map of
// feature strings): the reference the faster one must match to the bit.
func lexicalVectorRef(text string, dims int) []float32 {
	if dims <= 0 {
		dims = defaultHashDimensions
	}
	tf := map[string]float64{}
	for _, w := range lexicalWords(text) {
		tf["w:"+w] += lexicalWordWeight
		grams := lexicalGrams(w, lexicalGramSize)
		each := lexicalGramWeight / math.Sqrt(float64(len(grams)))
		for _, g := range grams {
			tf["g:"+g] += each
		}
	}
	if len(tf) == 0 {
		tf[lexicalNoWords] = 1
	}
	// In a fixed order: float sums in map order could differ in the last bit.
	features := make([]string, 0, len(tf))
	for f := range tf {
		features = append(features, f)
	}
	sort.Strings(features)
	acc := make([]float64, dims)
	for _, f := range features {
		w := tf[f]
		// Sublinear in the number of occurrences: a feature's weight w is
		// occurrences × unit weight, so compare with one occurrence's.
		h := fnv1a(f)
		i := int(h % uint64(dims))
		v := sublinear(w)
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

// The lexical embedding is computed without a string per feature, yet gives
// the very vectors lexical-v1 always gave (collections hold them): compared
// bit for bit with the first implementation over varied texts.
func TestLexicalVectorMatchesTheReferenceToTheBit(t *testing.T) {
	texts := []string{"", "   ", "the of to", "Login", "login login login LOGIN", "a b c d e",
		"Fix the login crash on Safari (iOS 17.2): users see a blank page after sign-in.",
		"Déployer l'API — vérifier les délais, les journaux et les reprises; déploiement n°3",
		"数据库迁移：添加索引 并 检查 性能", "emoji 🚀🚀 rocket-launch ✓ done", "x\xffy\xfe bad \xc3 utf8",
		"deploy deployment deployed redeploy", strings.Repeat("retry timeout logs ", 40),
		"task 12: wire the billing handler to the queue\n\nStep 12 of the rollout.\n\nlabels: backend, area-2"}
	rng := rand.New(rand.NewPCG(17, 4))
	vocab := strings.Fields("login crash queue handler deploy é ß ǅ İ retry timeout dashboards green api v2 the of 42 x9 ü" +
		" \u0130stanbul naïve ﬁle Ωmega")
	for range 300 {
		var b strings.Builder
		for range rng.IntN(40) {
			b.WriteString(vocab[rng.IntN(len(vocab))])
			b.WriteString([]string{" ", ", ", "-", "\n", "/", ""}[rng.IntN(6)])
		}
		texts = append(texts, b.String())
	}
	for _, dims := range []int{0, 7, 128, 384} {
		for _, text := range texts {
			got, want := lexicalVector(text, dims), lexicalVectorRef(text, dims)
			if len(got) != len(want) {
				t.Fatalf("dims %d, %q: %d dimensions, want %d", dims, text, len(got), len(want))
			}
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("dims %d, %q: dimension %d is %v, the reference %v", dims, text, i, got[i], want[i])
				}
			}
		}
	}
}

func BenchmarkLexicalVector(b *testing.B) {
	text := "task 12: wire the billing handler to the queue\n\nStep 12 of the rollout: check the retries, the timeouts and the logs. " +
		"Step 12 of the rollout: check the retries, the timeouts and the logs.\n\nlabels: backend, area-2"
	b.Run("now", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			lexicalVector(text, 384)
		}
	})
	b.Run("reference", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			lexicalVectorRef(text, 384)
		}
	})
}
