package tools

import (
	"github.com/mark3labs/mcp-go/mcp"
)

// fixOutputSchema corrects what schema generation cannot know from Go types:
// metadata (json.RawMessage) is a JSON object, and times are RFC 3339 strings.
func fixOutputSchema(t mcp.Tool) mcp.Tool {
	for k, v := range t.OutputSchema.Properties {
		t.OutputSchema.Properties[k] = fixNode(k, v)
	}
	return t
}

func fixNode(name string, node any) any {
	m, ok := node.(map[string]any)
	if !ok {
		return node
	}
	if name == "metadata" {
		return map[string]any{"type": "object", "description": "Free-form JSON object kept with the task"}
	}
	for _, key := range []string{"properties", "$defs", "definitions"} {
		if props, ok := m[key].(map[string]any); ok {
			for k, v := range props {
				props[k] = fixNode(k, v)
			}
		}
	}
	if alts, ok := m["anyOf"].([]any); ok {
		for i, alt := range alts {
			alts[i] = fixNode(name, alt)
		}
	}
	if items, ok := m["items"]; ok {
		m["items"] = fixNode("", items)
	}
	return m
}
