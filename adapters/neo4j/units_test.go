package neo4j_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/neo4j"
)

func TestExpandArgsFillsEveryPlaceholder(t *testing.T) {
	got := neo4j.ExpandArgs([]string{"run", "{data_dir}", "--listen=127.0.0.1:{port}", "{password}", "plain"}, "/p/db", 7687, "pw")
	want := []string{"run", "/p/db", "--listen=127.0.0.1:7687", "pw", "plain"}
	if !slices.Equal(got, want) {
		t.Errorf("ExpandArgs = %q, want %q", got, want)
	}
}

func TestBlankCypherKeepsOnlyTheStatementsOwnWords(t *testing.T) {
	cases := []struct {
		in      string
		loadCSV bool   // LOAD CSV is one of the statement's own words
		keeps   string // a part that must survive
	}{
		{"MATCH (n) WHERE n.x = 'LOAD CSV' RETURN n", false, "RETURN n"},
		{`RETURN "a\"b LOAD CSV" AS x // LOAD CSV`, false, "AS x"},
		{"LOAD/* c */CSV FROM $u AS l", true, "FROM $u AS l"},
		{"load\n  csv from $u as l", true, "from $u"},
		{"CALL `dbms`.`listConfig`()", false, "CALL"},
		{"RETURN 'unterminated LOAD CSV", false, "RETURN"},
		{"RETURN 1 /* unterminated comment LOAD CSV", false, "RETURN 1"},
		{"MATCH (n:`LOAD CSV`) RETURN n /* x */ LIMIT 1", false, "LIMIT 1"},
	}
	for _, tc := range cases {
		got := neo4j.BlankCypher(tc.in)
		words := strings.Join(strings.Fields(strings.ToUpper(got)), " ")
		if len(got) != len(tc.in) || strings.Contains(words, "LOAD CSV") != tc.loadCSV || !strings.Contains(got, tc.keeps) ||
			strings.Contains(got, "dbms") {
			t.Errorf("BlankCypher(%q) = %q", tc.in, got)
		}
	}
}
