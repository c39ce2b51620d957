package workspace_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

const projectFile = ".task_orchestrator/configs/config.json"

// applyErr applies content as a project config and returns the error, which must come.
func applyErr(t *testing.T, content string) error {
	t.Helper()
	_, _, err := workspace.ApplyProject(workspace.Defaults(), projectLayout(t, content))
	if err == nil {
		t.Fatal("the project config was accepted")
	}
	return err
}

// checkCapped asserts what every project config error must be: a
// *ValidationError, at most MaxConfigErrorBytes, naming the file relative to
// the project, with no Go type names.
func checkCapped(t *testing.T, err error) string {
	t.Helper()
	var ve *workspace.ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, workspace.ErrInvalidConfig) {
		t.Fatalf("error = %v (%T), want a *ValidationError", err, err)
	}
	msg := err.Error()
	if len(msg) > workspace.MaxConfigErrorBytes {
		t.Fatalf("error is %d bytes, over %d", len(msg), workspace.MaxConfigErrorBytes)
	}
	if !strings.HasPrefix(msg, projectFile+": ") {
		t.Fatalf("error should start with %s:\n%s", projectFile, msg)
	}
	for _, bad := range []string{"Go value", "Go struct", "workspace.", "float64", "int64", "unmarshal", "/tmp/"} {
		if strings.Contains(msg, bad) {
			t.Fatalf("error carries %q:\n%s", bad, msg)
		}
	}
	return msg
}

func TestProjectConfigOver64KiBIsRefusedUnread(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	for i := 0; b.Len() < 1<<20; i++ {
		fmt.Fprintf(&b, "%q: 1,", fmt.Sprintf("k%d", i))
	}
	b.WriteString(`"z": 1}`)
	err := applyErr(t, b.String())
	msg := checkCapped(t, err)
	if !errors.Is(err, workspace.ErrConfigFileRefused) || !strings.Contains(msg, "bytes, over the 64 KiB limit for a project config") {
		t.Fatalf("error = %s, want the size refusal", msg)
	}
	// 64 KiB exactly is read (and judged on its content).
	msg = checkCapped(t, applyErr(t, `{"x": 1}`+strings.Repeat(" ", workspace.MaxProjectConfigBytes-8)))
	if !strings.Contains(msg, "x: not allowed in a project config") {
		t.Fatalf("a 64 KiB file should be parsed: %s", msg)
	}
}

func TestManyProblemsListTheFirstTenAndCountTheRest(t *testing.T) {
	var keys []string
	for i := range 200 {
		keys = append(keys, fmt.Sprintf(`"max_conections_%d": %d`, i, i))
	}
	keys[0] = `"max_conections": 1` // the typo's suggestion survives the cap
	msg := checkCapped(t, applyErr(t, `{"database_pools": {"vector": {`+strings.Join(keys, ",\n")+`}}}`))
	lines := strings.Split(msg, "\n")
	if len(lines) != workspace.MaxReportedProblems+1 {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), workspace.MaxReportedProblems+1, msg)
	}
	if !strings.Contains(lines[0], `database_pools.vector.max_conections: unknown key; did you mean "max_connections"? (line 1, column 32)`) {
		t.Fatalf("first line %q lacks the suggestion or the position", lines[0])
	}
	if !strings.Contains(lines[9], "(line 10, column 1)") {
		t.Fatalf("tenth line %q lacks its position", lines[9])
	}
	if want := projectFile + ": … and 190 more problems"; lines[10] != want {
		t.Fatalf("last line %q, want %q", lines[10], want)
	}
}

func TestTooManyKeysOrTooDeepIsRefusedBeforeParsing(t *testing.T) {
	var keys []string
	for i := range 300 {
		keys = append(keys, fmt.Sprintf(`"database_pools": {}`)+strings.Repeat(" ", i%2))
	}
	// 300 duplicate keys: refused for their number, at the 257th, before any is judged.
	err := applyErr(t, "{"+strings.Join(keys, ",\n")+"}")
	msg := checkCapped(t, err)
	if !errors.Is(err, workspace.ErrConfigFileRefused) || !strings.Contains(msg, "has more than 256 keys") || !strings.Contains(msg, "(line 257, column 17)") {
		t.Fatalf("error = %s, want the key-count refusal at line 257", msg)
	}
	// Nine levels (under an unknown key, where nothing else would look).
	err = applyErr(t, `{"database_pools": {"vector": {"x": [[[[[[1]]]]]]}}}`)
	msg = checkCapped(t, err)
	if !errors.Is(err, workspace.ErrConfigFileRefused) || !strings.Contains(msg, "more than 8 levels deep here; settings are at most 3 levels deep") || !strings.Contains(msg, "(line 1, column 42)") {
		t.Fatalf("error = %s, want the depth refusal", msg)
	}
	// Eight levels are parsed: the unknown key is named.
	msg = checkCapped(t, applyErr(t, `{"database_pools": {"vector": {"x": [[[[[1]]]]]}}}`))
	if !strings.Contains(msg, "database_pools.vector.x: unknown key") {
		t.Fatalf("eight levels should be parsed: %s", msg)
	}
	// Brackets inside strings do not count.
	msg = checkCapped(t, applyErr(t, `{"database_pools": {"vector": {"[[[[[[[[[[": ":::"}}}`))
	if !strings.Contains(msg, "unknown key") {
		t.Fatalf("brackets in a string were counted: %s", msg)
	}
}

func TestDuplicateKeysInAProjectConfigAreRefused(t *testing.T) {
	msg := checkCapped(t, applyErr(t, configFixture(t, "bad/project-duplicate-key.json")))
	if want := projectFile + ": database_pools.vector.max_connections: appears more than once; keep one (line 2, column 2)"; msg != want {
		t.Fatalf("error\n%s\nwant\n%s", msg, want)
	}
}

func TestOutOfRangeNumbersAreRefusedInPlainWords(t *testing.T) {
	for _, c := range []struct{ value, want string }{
		{`"pool_timeout": 1e400`, "database_pools.graph.pool_timeout: must be a number of seconds in the setting's range, not the number 1e400 (line 1, column 31)"},
		{`"pool_timeout": -1e400`, "must be a number of seconds in the setting's range, not the number -1e400"},
		{`"max_connections": 1e30`, "database_pools.graph.max_connections: must be a whole number, not the number 1e30"},
		{`"max_connections": 99999999999999999999`, "must be a whole number in the setting's range, not the number 99999999999999999999"},
		{`"max_connections": 1` + strings.Repeat("0", 1000), "not the number 1" + strings.Repeat("0", 79) + "… (line 1, column 31)"},
		{`"health_check_interval": 1e-9`, "database_pools.graph.health_check_interval = 1e-09: must be 0 (off) or between 1 and 86400 seconds (line 1, column 31)"},
		{`"idle_timeout": 1e300`, "database_pools.graph.idle_timeout = 1e+300: must be 0 (off) or between 1 and 86400 seconds"},
		{`"pool_timeout": 0`, "database_pools.graph.pool_timeout = 0: must be between 1 and 3600 seconds"},
		{`"leak_detection_threshold": 0.999`, "= 0.999: must be 0 (off) or between 1 and 86400 seconds"},
		{`"max_overflow": -1`, "database_pools.graph.max_overflow = -1: must be between 0 and 32"},
	} {
		msg := checkCapped(t, applyErr(t, `{"database_pools": {"graph": {`+c.value+`}}}`))
		if !strings.Contains(msg, c.want) {
			t.Errorf("%s: error\n%s\ndoes not contain\n%s", c.value, msg, c.want)
		}
	}
}

func TestAProjectsPoolsStayUnderTheGlobalCeiling(t *testing.T) {
	thousand := configFixture(t, "bad/project-thousand-connections.json")
	msg := checkCapped(t, applyErr(t, thousand))
	for _, want := range []string{
		"database_pools.operational.min_connections = 1000: must be between 0 and 32 (the ceiling server.max_project_connections sets in the global config) (line 1, column 37)",
		"database_pools.operational.max_connections = 1000: must be between 1 and 32",
		"database_pools.vector.max_overflow = 5: with max_connections 30 must stay within 32 connections in all",
	} {
		if !strings.Contains(msg, want) {
			t.Fatalf("error\n%s\ndoes not contain\n%s", msg, want)
		}
	}
	// 32 in all is allowed.
	if _, _, err := workspace.ApplyProject(workspace.Defaults(), projectLayout(t, configFixture(t, "good/project-32-connections.json"))); err != nil {
		t.Fatalf("32 connections refused: %v", err)
	}
	// The global config or the environment may raise the ceiling; the project file may not.
	_, getenv := globalFile(t, `{}`, map[string]string{"TASK_ORCHESTRATOR_MAX_PROJECT_CONNECTIONS": "1000"})
	global, _, err := workspace.LoadGlobal(workspace.LoadOptions{Env: getenv})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := workspace.ApplyProject(global, projectLayout(t, thousand)); err != nil {
		t.Fatalf("raised ceiling: %v", err)
	}
	msg = checkCapped(t, applyErr(t, configFixture(t, "bad/project-raises-its-ceiling.json")))
	if !strings.Contains(msg, "server: not allowed in a project config") {
		t.Fatalf("a project raised its own ceiling: %s", msg)
	}
}

// within fails the test when f does not return in 10 s (a blocked open).
func within(t *testing.T, what string, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("%s blocked", what)
		return nil
	}
}

func TestNonRegularProjectConfigIsRefusedWithoutBlocking(t *testing.T) {
	l := projectLayout(t, "")
	mkfifoConfig(t, l)
	err := within(t, "ApplyProject on a FIFO", func() error { _, _, err := workspace.ApplyProject(workspace.Defaults(), l); return err })
	msg := checkCapped(t, err)
	if !errors.Is(err, workspace.ErrConfigFileRefused) || msg != projectFile+": is a named pipe (FIFO), not a regular file; remove it, and write the settings to a regular JSON file if the project needs any" {
		t.Fatalf("FIFO: %s", msg)
	}
	err = within(t, "ProjectConfigs.Get on a FIFO", func() error { _, _, err := workspace.NewProjectConfigs(workspace.Defaults(), 0).Get(l); return err })
	if !strings.Contains(checkCapped(t, err), "is a named pipe (FIFO)") {
		t.Fatalf("FIFO through the cache: %v", err)
	}

	l = projectLayout(t, "")
	if err := os.Mkdir(filepath.Join(l.Configs, "config.json"), 0o700); err != nil {
		t.Fatal(err)
	}
	if msg := checkCapped(t, applyErr2(t, l)); !strings.Contains(msg, "is a folder, not a regular file") {
		t.Fatalf("folder: %s", msg)
	}
}

func applyErr2(t *testing.T, l workspace.Layout) error {
	t.Helper()
	_, _, err := workspace.ApplyProject(workspace.Defaults(), l)
	return err
}

func TestProjectConfigsRemembersTheOutcomeUntilTheFileChanges(t *testing.T) {
	l := projectLayout(t, "")
	path := filepath.Join(l.Configs, "config.json")
	pc := workspace.NewProjectConfigs(workspace.Defaults(), 0)

	// No file: the base, remembered.
	cfg, file, err := pc.Get(l)
	if err != nil || file != "" || cfg.DatabasePools.Vector.MaxConnections != 10 {
		t.Fatalf("no file: %d %q %v", cfg.DatabasePools.Vector.MaxConnections, file, err)
	}

	// A bad file: the same error value on every call, so a hostile project is cheap.
	writeFile(t, path, `{"database_pools": {"vector": {"health_check_interval": 1e-9}}}`)
	_, file, err1 := pc.Get(l)
	_, _, err2 := pc.Get(l)
	if err1 == nil || err1 != err2 || file != path {
		t.Fatalf("bad file: %v / %v (file %q), want one remembered error", err1, err2, file)
	}
	checkCapped(t, err1)

	// Edited (another size): validated again.
	writeFile(t, path, `{"database_pools": {"vector": {"max_connections": 4}}}`)
	cfg, file, err = pc.Get(l)
	if err != nil || cfg.DatabasePools.Vector.MaxConnections != 4 || file != path {
		t.Fatalf("good file: %d %q %v", cfg.DatabasePools.Vector.MaxConnections, file, err)
	}
	// Same size, new modification time: validated again.
	writeFile(t, path, `{"database_pools": {"vector": {"max_connections": 5}}}`)
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(path, future, future); err != nil {
		t.Fatal(err)
	}
	if cfg, _, err = pc.Get(l); err != nil || cfg.DatabasePools.Vector.MaxConnections != 5 {
		t.Fatalf("same size, new mtime: %d %v", cfg.DatabasePools.Vector.MaxConnections, err)
	}
	// A returned config is a copy: changing it does not change the next one.
	off := false
	cfg.DatabasePools.Vector.Enabled = &off
	if cfg, _, _ = pc.Get(l); !cfg.DatabasePools.Vector.IsEnabled() {
		t.Fatal("a caller's change reached the cache")
	}
	// Replaced by a FIFO: refused, without opening it.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	mkfifoConfig(t, l)
	err = within(t, "Get", func() error { _, _, err := pc.Get(l); return err })
	if !errors.Is(err, workspace.ErrConfigFileRefused) {
		t.Fatalf("FIFO: %v", err)
	}
	// Removed: the base again.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if cfg, file, err = pc.Get(l); err != nil || file != "" || cfg.DatabasePools.Vector.MaxConnections != 10 {
		t.Fatalf("removed: %d %q %v", cfg.DatabasePools.Vector.MaxConnections, file, err)
	}
}

func TestProjectConfigsIsBoundedAndSafeForConcurrentUse(t *testing.T) {
	pc := workspace.NewProjectConfigs(workspace.Defaults(), 3)
	var layouts []workspace.Layout
	for i := range 6 {
		content := fmt.Sprintf(`{"database_pools": {"vector": {"max_connections": %d}}}`, i+1)
		if i%2 == 1 {
			content = `{"colour": 1}`
		}
		layouts = append(layouts, projectLayout(t, content))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 6*50)
	for g := range 6 {
		wg.Go(func() {
			for i := range 50 {
				n := (g + i) % 6
				cfg, _, err := pc.Get(layouts[n])
				switch {
				case n%2 == 1 && err == nil:
					errs <- fmt.Errorf("project %d: bad config accepted", n)
				case n%2 == 0 && (err != nil || cfg.DatabasePools.Vector.MaxConnections != n+1):
					errs <- fmt.Errorf("project %d: max_connections %d, err %v", n, cfg.DatabasePools.Vector.MaxConnections, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := pc.Len(); n > 3 {
		t.Fatalf("the cache holds %d projects, over its bound of 3", n)
	}
}

func TestGlobalConfigWithThousandsOfKeysIsRefusedAtTheBound(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	for i := 0; b.Len() < 900<<10; i++ {
		fmt.Fprintf(&b, "%q: 1,", fmt.Sprintf("k%d", i))
	}
	b.WriteString(`"z": 1}`)
	path, getenv := globalFile(t, b.String(), nil)
	_, _, err := workspace.LoadGlobal(workspace.LoadOptions{Env: getenv})
	if !errors.Is(err, workspace.ErrConfigFileRefused) || !strings.HasPrefix(err.Error(), path+": has more than 256 keys") || len(err.Error()) > workspace.MaxConfigErrorBytes {
		t.Fatalf("error = %.500s", err)
	}
}
