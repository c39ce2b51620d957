package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// doctorIn runs doctor --json in dir with an installed binary at exe and the
// given PATH, and returns its report.
func doctorIn(t *testing.T, dir, exe, path string) Report {
	t.Helper()
	vars := map[string]string{"XDG_CONFIG_HOME": t.TempDir(), "HOME": t.TempDir(), "PATH": path}
	var stdout, stderr bytes.Buffer
	env := Env{Stdout: &stdout, Stderr: &stderr, Version: "test", Getenv: func(k string) string { return vars[k] },
		Executable: func() (string, error) { return exe, nil }}
	if code := Doctor([]string{"--json", "--workspace", dir}, env); code != ExitOK {
		t.Fatalf("doctor exit %d:\n%s%s", code, stdout.String(), stderr.String())
	}
	var rep Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

// installed makes an executable mcp-task-orchestrator in a new bin folder.
func installed(t *testing.T) (bin, exe string) {
	t.Helper()
	bin = t.TempDir()
	exe = filepath.Join(bin, "mcp-task-orchestrator")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	bin, _ = filepath.EvalSymlinks(bin)
	return bin, filepath.Join(bin, "mcp-task-orchestrator")
}

func gitProject(t *testing.T) string {
	t.Helper()
	dir, _ := filepath.EvalSymlinks(t.TempDir())
	if err := os.Mkdir(filepath.Join(dir, ".git"), 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

// The team .mcp.json names the binary by name, with no path and no project,
// so the same file works on every teammate's machine; with the binary on
// PATH, nothing about it is noted.
func TestDoctorTeamSnippetHoldsNoMachinePath(t *testing.T) {
	bin, exe := installed(t)
	proj := gitProject(t)
	rep := doctorIn(t, proj, exe, bin+":/usr/bin:/bin")
	want := `{
  "mcpServers": {
    "task-orchestrator": {
      "command": "mcp-task-orchestrator",
      "args": []
    }
  }
}`
	if rep.ClientConfig.TeamJSON != want {
		t.Errorf("team snippet:\n%s\nwant:\n%s", rep.ClientConfig.TeamJSON, want)
	}
	if !strings.Contains(rep.ClientConfig.ClaudeDesktopJSON, `"command": "`+exe+`"`) ||
		!strings.Contains(rep.ClientConfig.ClaudeDesktopJSON, `"TASK_ORCHESTRATOR_WORKSPACE": "`+proj+`"`) {
		t.Errorf("the Claude Desktop snippet should name %s and %s:\n%s", exe, proj, rep.ClientConfig.ClaudeDesktopJSON)
	}
	for _, n := range rep.ClientConfig.Notes {
		if strings.Contains(n, "PATH") {
			t.Errorf("a note about PATH although the binary is on it: %s", n)
		}
	}
	for _, f := range rep.Findings {
		if f.Check == "client snippets" {
			t.Errorf("unexpected finding: %+v", f)
		}
	}
}

// Off PATH, the note says the team file would not start it and which folder
// to add; another mcp-task-orchestrator first on PATH is a warning.
func TestDoctorSaysWhichBinaryTheTeamSnippetWouldStart(t *testing.T) {
	bin, exe := installed(t)
	proj := gitProject(t)
	rep := doctorIn(t, proj, exe, "/usr/bin:/bin")
	note := "mcp-task-orchestrator is not on your PATH, so the team .mcp.json (which names it without a path) would not start it: " +
		"put " + bin + " on PATH, or use the snippets above, which name it by absolute path"
	found := false
	for _, n := range rep.ClientConfig.Notes {
		found = found || n == note
	}
	if !found {
		t.Errorf("notes %q lack %q", rep.ClientConfig.Notes, note)
	}

	otherBin, other := installed(t)
	rep = doctorIn(t, proj, exe, otherBin+":"+bin)
	want := Finding{Check: "client snippets", Level: LevelWarning,
		Detail: "mcp-task-orchestrator on your PATH is " + other + ", not this binary (" + exe + "): the team .mcp.json would start that one",
		Fix:    "install this build where PATH finds it (go build -o ~/.local/bin/mcp-task-orchestrator . in the clone), or remove the other"}
	if f := findCheck(rep, "client snippets"); f != want {
		t.Errorf("finding %+v, want %+v", f, want)
	}
}

// Run in the server's own clone (the old quick start's "doctor --workspace
// ."), doctor says the snippets would point the client at that source tree.
func TestDoctorWarnsWhenTheProjectIsTheServersOwnSource(t *testing.T) {
	_, exe := installed(t)
	clone := gitProject(t)
	if err := os.WriteFile(filepath.Join(clone, "go.mod"), []byte("module "+modulePath+"\n\ngo 1.26\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rep := doctorIn(t, clone, exe, "/usr/bin:/bin")
	want := Finding{Check: "client snippets", Level: LevelWarning,
		Detail: clone + " is the source tree of mcp-task-orchestrator itself, so the snippets below would point your client at it",
		Fix:    "cd to your own project and run mcp-task-orchestrator doctor there (or pass --workspace YOUR_PROJECT)"}
	if f := findCheck(rep, "client snippets"); f != want {
		t.Errorf("finding %+v, want %+v", f, want)
	}
}

func findCheck(rep Report, check string) Finding {
	for _, f := range rep.Findings {
		if f.Check == check {
			return f
		}
	}
	return Finding{}
}
