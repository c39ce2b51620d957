package migrate

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	msqlite "modernc.org/sqlite"
)

// PythonDBName is where the Python server keeps its database inside a
// project's .task_orchestrator folder (its MCP_TASK_ORCHESTRATOR_DB_PATH
// overrides that; pass --from then).
const PythonDBName = "task_orchestrator.db"

// pyBreakdown is a row of the Python server's task_breakdowns table: a goal
// that was broken into subtasks. It has no title and no status of its own.
type pyBreakdown struct {
	ID          string
	Description string
	Complexity  string
	Context     string
	CreatedAt   time.Time
}

// pySubtask is a row of its subtasks table.
type pySubtask struct {
	ID, ParentID, Title, Description string
	Specialist, Effort, Status       string
	Dependencies                     []string
	Results                          *string
	Artifacts                        []string // references as the Python server stored them
	Verification                     string
	CreatedAt                        time.Time
	CompletedAt                      *time.Time
}

// pyDB is everything read from the Python database, in one snapshot.
type pyDB struct {
	Path       string
	Breakdowns []pyBreakdown
	Subtasks   []pySubtask
	Warnings   []string
}

// The columns migrate reads. Columns the Python server added later
// (workspace_id, verification_status, …) are read only when present.
var requiredColumns = map[string][]string{
	"task_breakdowns": {"parent_task_id", "description", "complexity", "context", "created_at"},
	"subtasks": {"task_id", "parent_task_id", "title", "description", "specialist_type", "dependencies",
		"estimated_effort", "status", "results", "artifacts", "created_at", "completed_at"},
}

var sqliteMagic = []byte("SQLite format 3\x00")

// readPython opens path read-only (it never writes to it, and never creates
// it) and reads every task breakdown and subtask in one read transaction.
func readPython(ctx context.Context, path string) (*pyDB, error) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("no Python task database at %s: the Python mcp-task-orchestrator keeps it in <project>/.task_orchestrator/%s; "+
			"pass --workspace with the project that used it, or --from with the file (its MCP_TASK_ORCHESTRATOR_DB_PATH)", path, PythonDBName)
	case err != nil:
		return nil, fmt.Errorf("the Python task database %s cannot be read: %w", path, err)
	case fi.IsDir():
		return nil, fmt.Errorf("%s is a folder, not the Python task database; pass --from with the %s file inside it", path, PythonDBName)
	}
	header, err := readHeader(path)
	if err != nil {
		return nil, err
	}
	// mode=ro never writes the database; query_only guards the rest. The
	// Python server runs SQLite in WAL mode, so a read sees its last commits
	// even when it left a -wal file behind. A WAL database with neither -wal
	// nor -shm beside it was closed cleanly and nothing is writing it (a
	// writer would have made both): it is opened immutable, so that reading
	// it does not leave new -wal and -shm files in the Python folder.
	mode := "mode=ro"
	if header[18] == 2 && header[19] == 2 && !exists(path+"-wal") && !exists(path+"-shm") {
		mode = "mode=ro&immutable=1"
	}
	dsn := "file:" + (&url.URL{Path: filepath.ToSlash(path)}).EscapedPath() +
		"?" + mode + "&_pragma=busy_timeout(3000)&_pragma=query_only(1)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open the Python task database %s: %w", path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, pyError(path, err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only: nothing to keep
	out := &pyDB{Path: path}
	if err := checkSchema(ctx, tx, path); err != nil {
		return nil, err
	}
	if out.Breakdowns, err = readBreakdowns(ctx, tx); err != nil {
		return nil, pyError(path, err)
	}
	hasVerification, err := hasColumn(ctx, tx, "subtasks", "verification_status")
	if err != nil {
		return nil, pyError(path, err)
	}
	if out.Subtasks, out.Warnings, err = readSubtasks(ctx, tx, hasVerification); err != nil {
		return nil, pyError(path, err)
	}
	return out, nil
}

// readHeader returns the first 100 bytes of an SQLite file (its header), or
// an error that says the file is not one.
func readHeader(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("the Python task database %s cannot be read: %w", path, err)
	}
	defer f.Close()
	head := make([]byte, 100)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("the Python task database %s cannot be read: %w", path, err)
	}
	switch {
	case n == 0:
		return nil, fmt.Errorf("%s is empty, not an SQLite database: the Python server never wrote to it; there is nothing to migrate", path)
	case n < len(head) || !bytes.Equal(head[:len(sqliteMagic)], sqliteMagic):
		return nil, fmt.Errorf("%s is not an SQLite database, so not the Python mcp-task-orchestrator's task database; pass --from with its %s", path, PythonDBName)
	}
	return head, nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// pyError turns a driver error into one that says what to do.
func pyError(path string, err error) error {
	var se *msqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case 5, 6: // SQLITE_BUSY, SQLITE_LOCKED
			return fmt.Errorf("the Python task database %s is locked by another process (is the Python server still running "+
				"or in the middle of a write?); stop it, then run migrate again: %w", path, err)
		case 14: // SQLITE_CANTOPEN
			return fmt.Errorf("the Python task database %s cannot be opened read-only; its folder must let you read it, "+
				"and read and write its -shm file (SQLite's shared memory for WAL): %w", path, err)
		case 11, 26: // SQLITE_CORRUPT, SQLITE_NOTADB
			return fmt.Errorf("the Python task database %s is damaged or not a database (%w); restore it from the backups "+
				"the Python server keeps in backups/migrations/ and run migrate again", path, err)
		}
	}
	return fmt.Errorf("reading the Python task database %s: %w", path, err)
}

func checkSchema(ctx context.Context, tx *sql.Tx, path string) error {
	rows, err := tx.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table'`)
	if err != nil {
		return pyError(path, err)
	}
	tables := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return pyError(path, err)
		}
		tables[n] = true
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return pyError(path, err)
	}
	if !tables["task_breakdowns"] || !tables["subtasks"] {
		if tables["tasks"] && tables["task_dependencies"] {
			return fmt.Errorf("%s is this server's own task database, not the Python one; pass --from with the Python server's %s "+
				"(usually <project>/.task_orchestrator/%s)", path, PythonDBName, PythonDBName)
		}
		return fmt.Errorf("%s is an SQLite database but not the Python mcp-task-orchestrator's: it has no task_breakdowns and "+
			"subtasks tables; pass --from with the Python server's %s", path, PythonDBName)
	}
	for table, cols := range requiredColumns {
		for _, c := range cols {
			ok, err := hasColumn(ctx, tx, table, c)
			if err != nil {
				return pyError(path, err)
			}
			if !ok {
				return fmt.Errorf("%s has a %s table without the column %s: it was written by a version of the Python "+
					"mcp-task-orchestrator that migrate does not know (it reads the schema of 1.8); start that Python server "+
					"once so that it upgrades its database, then run migrate again", path, table, c)
			}
		}
	}
	return nil
}

func hasColumn(ctx context.Context, tx *sql.Tx, table, col string) (bool, error) {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info(?) WHERE name = ?`, table, col).Scan(&n)
	return n > 0, err
}

func readBreakdowns(ctx context.Context, tx *sql.Tx) ([]pyBreakdown, error) {
	// CAST: a column declared DATETIME would otherwise reach us pre-parsed by the driver.
	rows, err := tx.QueryContext(ctx, `SELECT parent_task_id, description, complexity, IFNULL(context, ''),
		CAST(created_at AS TEXT) FROM task_breakdowns ORDER BY created_at, parent_task_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []pyBreakdown
	for rows.Next() {
		var b pyBreakdown
		var desc, complexity sql.NullString
		var created sql.NullString
		if err := rows.Scan(&b.ID, &desc, &complexity, &b.Context, &created); err != nil {
			return nil, err
		}
		b.Description, b.Complexity = desc.String, complexity.String
		if b.CreatedAt, err = parsePyTime(created.String, time.Local); err != nil {
			return nil, fmt.Errorf("task %s: created_at: %w", b.ID, err)
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

func readSubtasks(ctx context.Context, tx *sql.Tx, hasVerification bool) ([]pySubtask, []string, error) {
	verification := "''"
	if hasVerification {
		verification = "IFNULL(verification_status, '')"
	}
	rows, err := tx.QueryContext(ctx, `SELECT task_id, parent_task_id, IFNULL(title, ''), IFNULL(description, ''),
		IFNULL(specialist_type, ''), CAST(dependencies AS TEXT), IFNULL(estimated_effort, ''), IFNULL(status, ''),
		results, CAST(artifacts AS TEXT), `+verification+`, CAST(created_at AS TEXT), CAST(completed_at AS TEXT)
		FROM subtasks ORDER BY created_at, task_id`)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var (
		out      []pySubtask
		warnings []string
	)
	for rows.Next() {
		var s pySubtask
		var deps, arts, created, completed, results sql.NullString
		if err := rows.Scan(&s.ID, &s.ParentID, &s.Title, &s.Description, &s.Specialist, &deps, &s.Effort, &s.Status,
			&results, &arts, &s.Verification, &created, &completed); err != nil {
			return nil, nil, err
		}
		if results.Valid {
			s.Results = &results.String
		}
		var w string
		if s.Dependencies, w = stringList(deps); w != "" {
			warnings = append(warnings, fmt.Sprintf("task %s: dependencies %s; imported without dependencies", s.ID, w))
		}
		if s.Artifacts, w = stringList(arts); w != "" {
			warnings = append(warnings, fmt.Sprintf("task %s: artifacts %s; imported without artifact references", s.ID, w))
		}
		if s.CreatedAt, err = parsePyTime(created.String, time.Local); err != nil {
			return nil, nil, fmt.Errorf("task %s: created_at: %w", s.ID, err)
		}
		if completed.Valid && completed.String != "" {
			// The Python server writes completed_at with datetime.utcnow().
			t, err := parsePyTime(completed.String, time.UTC)
			if err != nil {
				return nil, nil, fmt.Errorf("task %s: completed_at: %w", s.ID, err)
			}
			s.CompletedAt = &t
		}
		out = append(out, s)
	}
	return out, warnings, rows.Err()
}

// stringList reads a JSON column that should hold a list of strings. Older
// Python versions stored a bare string; that becomes a list of one. It
// returns a description of the problem when the value is something else.
func stringList(v sql.NullString) ([]string, string) {
	s := strings.TrimSpace(v.String)
	if !v.Valid || s == "" || s == "null" {
		return nil, ""
	}
	var list []any
	if err := json.Unmarshal([]byte(s), &list); err != nil {
		var one string
		if json.Unmarshal([]byte(s), &one) == nil {
			if one = strings.TrimSpace(one); one == "" {
				return nil, ""
			}
			return []string{one}, ""
		}
		return nil, fmt.Sprintf("hold %q, which is not a JSON list", clip(s, 60))
	}
	out := make([]string, 0, len(list))
	for _, e := range list {
		switch x := e.(type) {
		case string:
			if x = strings.TrimSpace(x); x != "" {
				out = append(out, x)
			}
		case nil:
		default:
			return nil, fmt.Sprintf("hold %q, which is not a list of strings", clip(s, 60))
		}
	}
	return out, ""
}

// pyTimeLayouts are the ways SQLAlchemy and Python's isoformat write a
// naive datetime.
var pyTimeLayouts = []string{
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04:05",
}

// parsePyTime parses a naive Python datetime in loc; a value that carries
// its own offset keeps it.
func parsePyTime(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, errors.New("empty")
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, l := range pyTimeLayouts {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date and time", clip(s, 40))
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
