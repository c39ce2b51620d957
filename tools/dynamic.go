package tools

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/mark3labs/mcp-go/server"
)

// ToolsetsDynamic is the choice that lists the tasks toolset and the
// discovery tool toolset_enable, which lists the other toolsets and adds one
// to the calling client's tools/list (notifications/tools/list_changed
// tells the client). See docs/users/context-and-toolsets.md.
const ToolsetsDynamic = "dynamic"

// dynamic keeps the tools a dynamic-mode server has not listed yet, by toolset.
type dynamic struct {
	s      *server.MCPServer
	sets   map[string][]server.ServerTool // toolset -> its tools not listed at start
	listed map[string]bool                // toolsets listed at start, whole
}

type toolsetEnableArgs struct {
	Enable string `json:"enable,omitempty" jsonschema:"enum=coordination,enum=ops,enum=vector,enum=graph"`
}

// ToolsetInfo is one toolset as toolset_enable shows it.
type ToolsetInfo struct {
	Name   string   `json:"name"`
	Tools  []string `json:"tools"`
	Listed bool     `json:"listed" jsonschema:"In this client's tools/list"`
}

// ToolsetEnableResult is toolset_enable's answer.
type ToolsetEnableResult struct {
	Toolsets []ToolsetInfo `json:"toolsets"`
	Enabled  []string      `json:"enabled" jsonschema:"Tools this call added"`
}

func (dy *dynamic) tool(d *Deps) server.ServerTool {
	tool := newTool("toolset_enable", "List or enable toolsets",
		"List the toolsets not shown yet; enable one to add its tools to your tools/list (vector needs Chroma, graph needs Neo4j).",
		hints{readOnly: true, destructive: false, idempotent: true, openWorld: false},
		inputSchema[toolsetEnableArgs](), outputSchema[ToolsetEnableResult]())
	return validated(lean(server.ServerTool{Tool: tool, Handler: handle(d, tool.Name, func(ctx context.Context, c *call, a toolsetEnableArgs) (any, string, error) {
		session := server.ClientSessionFromContext(ctx)
		var enabled []string
		if a.Enable != "" && !dy.listedFor(session, a.Enable) {
			tools := dy.sets[a.Enable]
			if err := dy.add(session, tools); err != nil {
				return nil, "", err
			}
			for _, t := range tools {
				enabled = append(enabled, t.Tool.Name)
			}
		}
		out := ToolsetEnableResult{Enabled: enabled}
		for _, name := range []string{ToolsetCoordination, ToolsetOps, ToolsetVector, ToolsetGraph} {
			info := ToolsetInfo{Name: name, Listed: dy.listedFor(session, name)}
			for _, t := range dy.sets[name] {
				info.Tools = append(info.Tools, t.Tool.Name)
			}
			if len(info.Tools) > 0 || info.Listed {
				out.Toolsets = append(out.Toolsets, info)
			}
		}
		text := "toolsets: " + dy.summary(out.Toolsets)
		if len(enabled) > 0 {
			text = fmt.Sprintf("added %d tools of %s to your tools/list; %s", len(enabled), a.Enable, text)
		}
		return out, text, nil
	})}))
}

// listedFor says whether every tool of toolset name is in session's list.
func (dy *dynamic) listedFor(session server.ClientSession, name string) bool {
	if dy.listed[name] {
		return true
	}
	tools := dy.sets[name]
	if len(tools) == 0 {
		return false
	}
	var own map[string]server.ServerTool
	if st, ok := session.(server.SessionWithTools); ok {
		own = st.GetSessionTools()
	}
	for _, t := range tools {
		if _, ok := own[t.Tool.Name]; ok {
			continue
		}
		if dy.s.GetTool(t.Tool.Name) == nil {
			return false
		}
	}
	return true
}

// add lists tools for session: as the session's own tools where the
// transport keeps them (Streamable HTTP), else for the server, which on stdio
// serves this one client. mcp-go sends notifications/tools/list_changed.
func (dy *dynamic) add(session server.ClientSession, tools []server.ServerTool) error {
	if st, ok := session.(server.SessionWithTools); ok {
		if err := dy.s.AddSessionTools(st.SessionID(), tools...); err != nil {
			return fmt.Errorf("adding tools to the session: %w", err)
		}
		// The list_changed just queued goes out on this call's response
		// stream: let it be taken before the call returns (clientlog.go).
		awaitForwarder(session)
		return nil
	}
	dy.s.AddTools(tools...)
	return nil
}

func (dy *dynamic) summary(sets []ToolsetInfo) string {
	var parts []string
	for _, s := range sets {
		state := "not listed"
		if s.Listed {
			state = "listed"
		}
		parts = append(parts, fmt.Sprintf("%s (%d tools, %s)", s.Name, len(s.Tools), state))
	}
	if len(parts) == 0 {
		return "none besides tasks"
	}
	return strings.Join(parts, ", ")
}

// registerDynamic lists picked and toolset_enable; the other tools of
// all wait in their toolsets until a client enables one.
func (ts *Toolset) registerDynamic(d *Deps, s *server.MCPServer, all, picked []server.ServerTool, explicit map[string]bool) []string {
	dy := &dynamic{s: s, sets: map[string][]server.ServerTool{}, listed: map[string]bool{}}
	var names []string
	for _, t := range picked {
		names = append(names, t.Tool.Name)
	}
	for _, t := range all {
		if slices.Contains(names, t.Tool.Name) {
			continue
		}
		set := toolsetOf(t.Tool.Name)
		dy.sets[set] = append(dy.sets[set], t)
	}
	for set := range explicit {
		if len(dy.sets[set]) == 0 {
			dy.listed[set] = true
		}
	}
	enable := dy.tool(d)
	s.AddTools(append(slices.Clone(picked), enable)...)
	return append(names, enable.Tool.Name)
}
