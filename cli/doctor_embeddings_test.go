package cli

import (
	"context"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// The offline provider is described as what it is, and its old name is
// accepted with a note to rename it.
func TestDoctorDescribesTheLexicalProviderAndItsOldName(t *testing.T) {
	for _, tc := range []struct {
		provider string
		want     Finding
	}{
		{"lexical", Finding{Check: "embeddings", Level: LevelOK,
			Detail: "lexical: offline; shared words and word pieces make texts near; not meaning"}},
		{"hash", Finding{Check: "embeddings", Level: LevelWarning,
			Detail: "hash is the old name of lexical and is read as lexical (offline; shared words and word pieces make texts near; " +
				"not meaning); collections embedded by the old hash are refused until re-embedded",
			Fix: "set embeddings.provider to lexical"}},
		{"simhash", Finding{Check: "embeddings", Level: LevelError, Detail: `embeddings.provider "simhash" is not known`,
			Fix: "set embeddings.provider to lexical, local, openai, ollama or default, or leave it empty"}},
	} {
		var rep Report
		cfg := workspace.Config{Embeddings: workspace.Embeddings{Provider: tc.provider}}
		probe{ctx: context.Background()}.embeddings(&rep, cfg)
		if len(rep.Findings) != 1 || rep.Findings[0] != tc.want {
			t.Errorf("provider %s: findings = %+v, want %+v", tc.provider, rep.Findings, tc.want)
		}
	}
}
