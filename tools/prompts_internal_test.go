package tools

import (
	"context"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
)

func getPlanWork(args map[string]string) (string, error) {
	req := mcp.GetPromptRequest{}
	req.Params.Name = PromptPlanWork
	req.Params.Arguments = args
	res, err := planWork(context.Background(), req)
	if err != nil {
		return "", err
	}
	return res.Messages[0].Content.(mcp.TextContent).Text, nil
}

// plan_work's label and role reach the text the agent reads; a label the
// task store would refuse is refused here first, in one sentence.
func TestPlanWorkPutsTheLabelAndRoleIntoThePlan(t *testing.T) {
	text, err := getPlanWork(map[string]string{"goal": "add CSV export", "label": "csv-export", "role": "coder"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`Put the label "csv-export" on every task of the plan`, `the role "coder"`} {
		if !strings.Contains(text, want) {
			t.Errorf("plan text lacks %q:\n%s", want, text)
		}
	}
	if text, _ := getPlanWork(map[string]string{"goal": "x"}); strings.Contains(text, "Put the label") || strings.Contains(text, "of role") {
		t.Errorf("without label and role the text mentions them:\n%s", text)
	}
	_, err = getPlanWork(map[string]string{"goal": "x", "label": "csv export"})
	if want := `plan_work: label must be 1 to 64 characters from A-Z a-z 0-9 _ . : -, got "csv export"; pick one of the labels the completion offers or write a new one in those characters`; err == nil || err.Error() != want {
		t.Errorf("bad label: err = %v\nwant %s", err, want)
	}
	_, err = getPlanWork(map[string]string{"goal": "x", "colour": "red"})
	if want := `plan_work has no argument "colour"; its arguments are goal (required), agents, label, role and workspace`; err == nil || err.Error() != want {
		t.Errorf("unknown argument: err = %v\nwant %s", err, want)
	}
}
