package neo4j

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	driver "github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// The read-only guard of Query. Its authority is Neo4j's own planner: the
// statement is EXPLAINed (planned, not run) and runs only if the plan's
// query type is "r". Two things the query type does not cover are refused
// from the plan's operators as well: reaching outside the database (LOAD
// CSV, apoc.load/import/export and the procedures that run Cypher the
// planner never sees) and administering the server (dbms.*, SHOW SETTINGS,
// TERMINATE TRANSACTIONS, db.* procedures beyond a few schema readers),
// which Neo4j 5 plans as "r" in several cases. A token check for LOAD CSV
// backs the plan up. Then the statement runs in a READ transaction, which
// the server itself keeps from writing.

// allowedDBProcedures are the db.* procedures graph_query may call: they read
// the schema, or query the project's own indexes.
var allowedDBProcedures = []string{
	"db.labels", "db.relationshipTypes", "db.propertyKeys", "db.schema.",
	"db.index.fulltext.queryNodes", "db.index.fulltext.queryRelationships",
	"db.index.vector.queryNodes", "db.index.vector.queryRelationships",
}

// outsidePrefixes name procedures and functions that reach outside the
// database (files, URLs, other databases) or run Cypher that EXPLAIN cannot
// see: refused by Query and by Write.
var outsidePrefixes = []string{
	"apoc.load.", "apoc.import.", "apoc.export.", "apoc.cypher.", "apoc.periodic.", "apoc.systemdb.",
	"apoc.trigger.", "apoc.custom.", "apoc.config.", "apoc.log.", "apoc.bolt.", "apoc.util.sleep",
	"dbms.",
}

// allowedShowOperators are the SHOW commands graph_query may run: they list
// the schema and what may be called. The others (SHOW SETTINGS, SHOW
// TRANSACTIONS, ...) expose the server's configuration or other sessions.
var allowedShowOperators = map[string]bool{
	"ShowIndexes": true, "ShowConstraints": true, "ShowFunctions": true, "ShowProcedures": true,
}

// loadCSV finds LOAD CSV in a statement whose comments and literals are blanked.
var loadCSV = regexp.MustCompile(`(?i)\bLOAD\s+CSV\b`)

// callNames finds the names after CALL in a blanked statement (a backup for
// the plan: backquoted names are blanked, the plan resolves those).
var callNames = regexp.MustCompile(`(?i)\bCALL\s+([A-Za-z_][A-Za-z0-9_.]*)\s*\(`)

// blankCypher replaces comments, string literals and backquoted names by
// spaces, so a token check sees only the statement's own words. An
// unterminated literal blanks the rest (the server refuses such a statement).
func blankCypher(q string) string {
	b := []byte(q)
	for i := 0; i < len(b); i++ {
		switch {
		case b[i] == '/' && i+1 < len(b) && b[i+1] == '/':
			for i < len(b) && b[i] != '\n' {
				b[i] = ' '
				i++
			}
		case b[i] == '/' && i+1 < len(b) && b[i+1] == '*':
			b[i], b[i+1] = ' ', ' '
			i += 2
			for i < len(b) && !(b[i] == '*' && i+1 < len(b) && b[i+1] == '/') {
				b[i] = ' '
				i++
			}
			if i < len(b) {
				b[i], b[i+1] = ' ', ' '
				i++
			}
		case b[i] == '\'' || b[i] == '"' || b[i] == '`':
			quote := b[i]
			b[i] = ' '
			i++
			for i < len(b) && b[i] != quote {
				if b[i] == '\\' && quote != '`' && i+1 < len(b) {
					b[i] = ' '
					i++
				}
				b[i] = ' '
				i++
			}
			if i < len(b) {
				b[i] = ' '
			}
		}
	}
	return string(b)
}

// lexicalRefusal is the token check: LOAD CSV, and CALLs of procedures that
// reach outside the database, written in the statement's own words.
func lexicalRefusal(cypher string, readOnly bool) error {
	blank := blankCypher(cypher)
	if loadCSV.MatchString(blank) {
		return refuseOutside(readOnly, "LOAD CSV", "it reads files or URLs outside the database")
	}
	for _, m := range callNames.FindAllStringSubmatch(blank, -1) {
		if why := procedureRefusal(m[1], readOnly); why != "" {
			return refuseOutside(readOnly, m[1], why)
		}
	}
	return nil
}

// procedureRefusal says why a procedure may not run ("" = it may).
func procedureRefusal(name string, readOnly bool) string {
	lower := strings.ToLower(name)
	for _, p := range outsidePrefixes {
		if strings.HasPrefix(lower, strings.ToLower(p)) {
			if p == "dbms." {
				return "dbms.* procedures administer the server"
			}
			return "it reaches outside the database, or runs Cypher that the query plan cannot check"
		}
	}
	if readOnly && strings.HasPrefix(lower, "db.") {
		for _, a := range allowedDBProcedures {
			if lower == strings.ToLower(a) || (strings.HasSuffix(a, ".") && strings.HasPrefix(lower, strings.ToLower(a))) {
				return ""
			}
		}
		return "of the db.* procedures graph_query allows only db.labels, db.relationshipTypes, db.propertyKeys, " +
			"db.schema.* and the fulltext/vector index queries"
	}
	return ""
}

func refuseOutside(readOnly bool, what, why string) *Error {
	if readOnly {
		return &Error{Kind: KindNotReadOnly, Msg: fmt.Sprintf("graph_query refuses %s: %s; graph_query runs only "+
			"statements that read this project's graph", what, why)}
	}
	return &Error{Kind: KindForbidden, Msg: fmt.Sprintf("graph_write refuses %s: %s", what, why)}
}

// planOperator is one operator of an EXPLAIN plan.
type planOperator struct {
	name     string // "ProcedureCall", "LoadCSV", ...
	database string // the database it runs on ("" when the plan does not say)
	details  string
}

// operators flattens a plan. Neo4j names operators "Name@database".
func operators(p driver.Plan) []planOperator {
	var out []planOperator
	var walk func(driver.Plan, int)
	walk = func(p driver.Plan, depth int) {
		if p == nil || depth > 200 {
			return
		}
		op := planOperator{name: p.Operator()}
		if i := strings.LastIndexByte(op.name, '@'); i >= 0 {
			op.name, op.database = op.name[:i], op.name[i+1:]
		}
		if d, ok := p.Arguments()["Details"].(string); ok {
			op.details = d
		}
		out = append(out, op)
		for _, c := range p.Children() {
			walk(c, depth+1)
		}
	}
	walk(p, 0)
	return out
}

// qualified finds qualified names followed by "(" (procedure and function
// calls) in plan details.
var qualified = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+)\s*\(`)

// planRefusal checks the operators of an EXPLAIN plan: nothing reaching
// outside the database, no administration, and (for Query) every operator
// on the session's database.
func planRefusal(ops []planOperator, database string, readOnly bool) error {
	for _, op := range ops {
		switch {
		case op.name == "LoadCSV":
			return refuseOutside(readOnly, "LOAD CSV", "it reads files or URLs outside the database")
		case op.name == "AdministrationCommand":
			return refuseOutside(readOnly, "an administration command (users, databases, privileges)", "it administers the server")
		case strings.HasPrefix(op.name, "Terminate"), strings.HasPrefix(op.name, "Show") && !allowedShowOperators[op.name]:
			return refuseOutside(readOnly, "this command ("+op.name+")", "it administers the server, or shows its settings or other sessions")
		case database != "" && op.database != "" && !strings.EqualFold(op.database, database):
			return refuseOutside(readOnly, "a statement on database "+op.database,
				"only this project's database ("+database+") may be used")
		}
		if op.name == "ProcedureCall" {
			name := op.details
			if i := strings.IndexByte(name, '('); i >= 0 {
				name = name[:i]
			}
			name = strings.TrimSpace(name)
			if why := procedureRefusal(name, readOnly); why != "" {
				return refuseOutside(readOnly, "procedure "+name, why)
			}
		}
		for _, m := range qualified.FindAllStringSubmatch(op.details, -1) {
			if why := procedureRefusal(m[1], false); why != "" {
				return refuseOutside(readOnly, m[1], why)
			}
		}
	}
	return nil
}

// queryTypeName says what a statement type means, for messages.
func queryTypeName(t driver.StatementType) string {
	switch t {
	case driver.StatementTypeReadWrite:
		return "read-write (rw)"
	case driver.StatementTypeWriteOnly:
		return "write (w)"
	case driver.StatementTypeSchemaWrite:
		return "schema or administration (s)"
	case driver.StatementTypeReadOnly:
		return "read-only (r)"
	}
	return "of unknown type"
}

// explainPrefix goes on a line of its own, so the server's error messages
// quote the caller's own line; unshiftPosition corrects the line and offset.
const explainPrefix = "EXPLAIN\n"

var errorPosition = regexp.MustCompile(`\(line (\d+), column (\d+) \(offset: (\d+)\)\)`)

// unshiftPosition makes the position in a server error count from the
// caller's statement rather than from the EXPLAIN line before it.
func unshiftPosition(err error) error {
	ne := serverError(err)
	if ne == nil {
		return err
	}
	ne.Msg = errorPosition.ReplaceAllStringFunc(ne.Msg, func(m string) string {
		p := errorPosition.FindStringSubmatch(m)
		line, _ := strconv.Atoi(p[1])
		offset, _ := strconv.Atoi(p[3])
		if line < 2 || offset < len(explainPrefix) {
			return m
		}
		return fmt.Sprintf("(line %d, column %s (offset: %d))", line-1, p[2], offset-len(explainPrefix))
	})
	return err
}

// explain plans cypher without running it and checks the plan: for Query
// (readOnly), the query type must be "r"; for both, planRefusal.
func (s *Store) explain(ctx context.Context, sess driver.SessionWithContext, cypher string, params map[string]any, readOnly bool) error {
	res, err := sess.Run(ctx, explainPrefix+cypher, params, driver.WithTxTimeout(s.opts.queryTimeout()))
	if err != nil {
		return unshiftPosition(err)
	}
	sum, err := res.Consume(ctx)
	if err != nil {
		return unshiftPosition(err)
	}
	database := s.database
	if database == "" && sum.Database() != nil {
		database = sum.Database().Name()
	}
	if err := planRefusal(operators(sum.Plan()), database, readOnly); err != nil {
		return err
	}
	if readOnly && sum.StatementType() != driver.StatementTypeReadOnly {
		return &Error{Kind: KindNotReadOnly, Msg: fmt.Sprintf("graph_query runs only read-only Cypher, and Neo4j's query plan "+
			"says this statement is %s; use graph_write for changes", queryTypeName(sum.StatementType()))}
	}
	return nil
}

// rawAllowed refuses raw Cypher on a shared server not dedicated to this project.
func (s *Store) rawAllowed() error {
	if !s.raw {
		return &Error{Kind: KindForbidden, Msg: msgForbiddenRaw}
	}
	return nil
}

func checkCypher(cypher string) (string, error) {
	c := strings.TrimSpace(cypher)
	if c == "" {
		return "", invalid("cypher", "cypher is required: one Cypher statement, e.g. MATCH (n:File) RETURN n.key LIMIT 10")
	}
	return c, nil
}

// Query runs one read-only Cypher statement (graph_query): refused unless
// raw Cypher is allowed here and Neo4j's plan says it only reads this
// database; then run in a READ transaction with the query timeout. Rows are
// capped at MaxRows and MaxBytes (Truncated says some were left out).
func (s *Store) Query(ctx context.Context, cypher string, params map[string]any) (Result, error) {
	return s.runRaw(ctx, cypher, params, true)
}

// Write runs one Cypher statement that may change the graph (graph_write) in
// a write transaction with the query timeout, and returns its rows (capped
// like Query's) and change counters. Statements that reach outside the
// database (LOAD CSV, dbms.*, apoc.load.*, ...) are refused here too.
func (s *Store) Write(ctx context.Context, cypher string, params map[string]any) (Result, error) {
	return s.runRaw(ctx, cypher, params, false)
}

func (s *Store) runRaw(ctx context.Context, cypher string, params map[string]any, readOnly bool) (Result, error) {
	if err := s.rawAllowed(); err != nil {
		return Result{}, err
	}
	cypher, err := checkCypher(cypher)
	if err != nil {
		return Result{}, err
	}
	p, err := normalizeParams(params)
	if err != nil {
		return Result{}, err
	}
	if err := lexicalRefusal(cypher, readOnly); err != nil {
		return Result{}, err
	}
	mode, tool := driver.AccessModeWrite, "graph_write"
	if readOnly {
		mode, tool = driver.AccessModeRead, "graph_query"
	}
	what := "running " + tool
	done, err := s.acquireRaw(ctx, tool)
	if err != nil {
		return Result{}, err
	}
	defer done()
	var out Result
	rd := &reader{}
	defer rd.release()
	err = s.with(ctx, what, func(ctx context.Context, d driver.DriverWithContext) error {
		// One more record than the row cap: enough to tell the result was
		// truncated, and the server sends no batch beyond it.
		sess := s.session(ctx, d, mode, s.opts.maxRows()+1)
		defer closeSession(sess)
		ectx, cancel := context.WithTimeout(ctx, s.opts.queryTimeout()+txGrace)
		err := s.explain(ectx, sess, cypher, p, readOnly)
		timedOut := ctx.Err() == nil && errors.Is(ectx.Err(), context.DeadlineExceeded)
		cancel()
		if err != nil {
			if timedOut && !callersFault(err) {
				return s.clientTimeout(err, "planning the statement")
			}
			return err
		}
		out, err = execute(s, ctx, sess, mode, what, func(ctx context.Context, tx driver.ManagedTransaction) (Result, error) {
			*rd = reader{left: s.opts.maxBytes()}
			res, err := tx.Run(ctx, cypher, p)
			if err != nil {
				return Result{}, err
			}
			return s.collect(ctx, res, rd, tool, !readOnly)
		})
		return err
	})
	if IsKind(err, KindTimeout) {
		// Most likely a record too large to arrive in time: the driver's
		// buffers for it are garbage now, give them back as well.
		rd.big = true
	}
	return out, err
}

// collect reads a result's rows as JSON-friendly maps, one record at a time,
// up to MaxRows rows and about MaxBytes of JSON (rd's budget); with counters
// (a write), it also reads the summary. A read that stops at a cap returns
// what it has with errStopReading, so the transaction is aborted instead of
// reading on; a first row that alone exceeds the byte cap is KindTooLarge.
func (s *Store) collect(ctx context.Context, res driver.ResultWithContext, rd *reader, tool string, counters bool) (Result, error) {
	keys, err := res.Keys()
	if err != nil {
		return Result{}, err
	}
	out := Result{Columns: nonNil(keys), Rows: []map[string]any{}}
	rd.left -= 2 // []
	maxRows := s.opts.maxRows()
	atByteCap := false
	for {
		rec, _, stop := rd.next(ctx, res)
		if stop && len(out.Rows) == 0 && !counters {
			e := s.tooLarge(tool, out.Columns)
			e.Err = errStopReading
			return Result{}, e
		}
		if stop || (rec != nil && len(out.Rows) >= maxRows) {
			out.Truncated, atByteCap = true, stop
			break
		}
		if rec == nil {
			break
		}
		row := make(map[string]any, len(rec.Keys))
		for i, k := range rec.Keys {
			row[k] = jsonValue(rec.Values[i])
		}
		rd.left-- // the comma
		out.Rows = append(out.Rows, row)
	}
	if err := res.Err(); err != nil {
		return Result{}, err
	}
	if !counters {
		// At the row cap the batch (MaxRows+1 records) has ended: committing
		// reads nothing more. At the byte cap records may still be on their
		// way: the read is aborted instead.
		if atByteCap {
			return out, errStopReading
		}
		return out, nil
	}
	// A write must run to its end: the rest of its records are discarded
	// unread by the server where it can, and read one at a time otherwise.
	sum, err := res.Consume(ctx)
	if err != nil {
		return Result{}, err
	}
	out.Counters = countersOf(sum.Counters())
	return out, nil
}

func countersOf(c driver.Counters) map[string]int {
	return map[string]int{
		"nodes_created":         c.NodesCreated(),
		"nodes_deleted":         c.NodesDeleted(),
		"relationships_created": c.RelationshipsCreated(),
		"relationships_deleted": c.RelationshipsDeleted(),
		"properties_set":        c.PropertiesSet(),
		"labels_added":          c.LabelsAdded(),
		"labels_removed":        c.LabelsRemoved(),
		"indexes_added":         c.IndexesAdded(),
		"indexes_removed":       c.IndexesRemoved(),
		"constraints_added":     c.ConstraintsAdded(),
		"constraints_removed":   c.ConstraintsRemoved(),
		"system_updates":        c.SystemUpdates(),
	}
}
