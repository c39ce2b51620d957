package tools

import "testing"

func TestEncodeResourceQueryEncodesPlainValuesOnly(t *testing.T) {
	cases := map[string]string{
		"task-orchestrator://tasks/open?workspace=/home/u/p":                      "task-orchestrator://tasks/open?workspace=%2Fhome%2Fu%2Fp",
		"task-orchestrator://tasks/open?workspace=%2Fhome%2Fu%2Fp":                "task-orchestrator://tasks/open?workspace=%2Fhome%2Fu%2Fp",
		"task-orchestrator://tasks/open?workspace=/a b/ü":                         "task-orchestrator://tasks/open?workspace=%2Fa%20b%2F%C3%BC",
		"task-orchestrator://tasks/T/artifacts/x.md?offset=6&workspace=/a&length": "task-orchestrator://tasks/T/artifacts/x.md?offset=6&workspace=%2Fa&length",
		"task-orchestrator://tasks/open?workspace=/a%zz":                          "task-orchestrator://tasks/open?workspace=%2Fa%zz",
		"task-orchestrator://tasks/open":                                          "task-orchestrator://tasks/open",
		"other://x?workspace=/a":                                                  "other://x?workspace=/a",
	}
	for in, want := range cases {
		if got := encodeResourceQuery(in); got != want {
			t.Errorf("%s:\n got %s\nwant %s", in, got, want)
		}
	}
}
