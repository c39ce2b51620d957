package workspace_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// BenchmarkHostileProjectConfig measures validating the worst 64 KiB files
// (no cache): the cost is linear in the bytes read, whatever their shape.
func BenchmarkHostileProjectConfig(b *testing.B) {
	fill := func(head, member, end string) string {
		var s strings.Builder
		s.WriteString(head)
		for i := 0; s.Len()+len(member)+len(end)+8 < workspace.MaxProjectConfigBytes; i++ {
			s.WriteString(fmt.Sprintf(member, i))
		}
		s.WriteString(end)
		return s.String()
	}
	for _, c := range []struct{ name, content string }{
		{"256 unknown keys then more", fill(`{"database_pools": {"vector": {`, `"unknown_%d": 1, `, `"x": 1}}}`)},
		{"one 64 KiB key", `{"database_pools": {"vector": {"` + strings.Repeat("k", workspace.MaxProjectConfigBytes-64) + `": 1}}}`},
		{"64 KiB of numbers 8 deep", fill(`{"database_pools": {"vector": {"x": [[[[[`, `%d,`, `1]]]]]}}}`)},
		{"250 long unknown keys", fill(`{"database_pools": {"graph": {`, `"`+strings.Repeat("max_connections", 16)+`%d": 1, `, `"x": 1}}}`)},
	} {
		l := projectLayout(b, c.content)
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.content)))
			for b.Loop() {
				if _, _, err := workspace.ApplyProject(workspace.Defaults(), l); err == nil {
					b.Fatal("accepted")
				} else if len(err.Error()) > workspace.MaxConfigErrorBytes {
					b.Fatalf("a %d-byte error", len(err.Error()))
				}
			}
		})
	}
	l := projectLayout(b, `{"x": 1}`)
	pc := workspace.NewProjectConfigs(workspace.Defaults(), 0)
	b.Run("remembered", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := pc.Get(l); err == nil {
				b.Fatal("accepted")
			}
		}
	})
}
