package work

// MaxLabelLen is the longest label, in bytes (labels are ASCII).
const MaxLabelLen = 64

// ValidLabel says whether l is a label the task store keeps: 1 to
// MaxLabelLen characters from A-Z a-z 0-9 _ . : -. The store checks it on
// every write; the plan_work prompt checks it too, so that it never tells an
// agent to use a label task_plan would refuse.
func ValidLabel(l string) bool {
	if n := len(l); n < 1 || n > MaxLabelLen {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}
