package chroma

import (
	"fmt"
	"sort"
	"strings"

	v2 "github.com/amikos-tech/chroma-go/pkg/api/v2"
)

const whereExample = `a valid filter looks like {"kind": "note"} or {"$and": [{"kind": "note"}, {"year": {"$gte": 2020}}]} ` +
	`(comparisons: $eq $ne $gt $gte $lt $lte $in $nin; combine with $and / $or)`

// maxWhereDepth bounds the nesting of $and / $or.
const maxWhereDepth = 16

// buildWhere translates a metadata filter in Chroma's JSON form into
// chroma-go's where clause, checking operators, field names and value types on
// the way. nil in, nil out.
//
//	{"field": value}                                   equality
//	{"field": {"$eq|$ne|$gt|$gte|$lt|$lte|$in|$nin": v}} comparison
//	{"$and": [filter, ...]}, {"$or": [filter, ...]}     combination
//
// Several keys in one object are combined with $and, as are several operators
// on one field ({"year": {"$gte": 2020, "$lt": 2025}}).
func buildWhere(w map[string]any) (v2.WhereClause, error) {
	if len(w) == 0 {
		return nil, nil
	}
	return whereObject("where", w, 0)
}

func whereErr(path, format string, args ...any) error {
	return invalid(path, "where filter: %s: %s; %s", path, fmt.Sprintf(format, args...), whereExample)
}

func whereObject(path string, w map[string]any, depth int) (v2.WhereClause, error) {
	if depth > maxWhereDepth {
		return nil, whereErr(path, "nested more than %d levels deep", maxWhereDepth)
	}
	if len(w) == 0 {
		return nil, whereErr(path, "is an empty object")
	}
	keys := make([]string, 0, len(w))
	for k := range w {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	clauses := make([]v2.WhereClause, 0, len(keys))
	for _, k := range keys {
		var (
			c   v2.WhereClause
			err error
		)
		switch {
		case k == "$and" || k == "$or":
			c, err = whereLogical(path+"."+k, k, w[k], depth)
		case strings.HasPrefix(k, "$"):
			err = whereErr(path+"."+k, "%q is not a logical operator here (use $and or $or at this level, "+
				"and comparison operators inside a field: {\"field\": {%q: ...}})", k, k)
		default:
			c, err = whereField(path+"."+k, k, w[k])
		}
		if err != nil {
			return nil, err
		}
		clauses = append(clauses, c)
	}
	if len(clauses) == 1 {
		return clauses[0], nil
	}
	return v2.And(clauses...), nil
}

func whereLogical(path, op string, v any, depth int) (v2.WhereClause, error) {
	list, ok := v.([]any)
	if !ok {
		if ms, ok2 := v.([]map[string]any); ok2 {
			list = make([]any, len(ms))
			for i := range ms {
				list[i] = ms[i]
			}
		} else {
			return nil, whereErr(path, "must be a list of filters, got a %s", jsonKind(v))
		}
	}
	if len(list) == 0 {
		return nil, whereErr(path, "is an empty list: give at least one filter")
	}
	clauses := make([]v2.WhereClause, 0, len(list))
	for i, item := range list {
		p := fmt.Sprintf("%s[%d]", path, i)
		m, ok := item.(map[string]any)
		if !ok {
			return nil, whereErr(p, "must be a filter object, got a %s", jsonKind(item))
		}
		c, err := whereObject(p, m, depth+1)
		if err != nil {
			return nil, err
		}
		clauses = append(clauses, c)
	}
	if len(clauses) == 1 {
		return clauses[0], nil
	}
	if op == "$and" {
		return v2.And(clauses...), nil
	}
	return v2.Or(clauses...), nil
}

func whereField(path, field string, v any) (v2.WhereClause, error) {
	if err := checkField(path, field); err != nil {
		return nil, whereErr(path, "%s", err.Error())
	}
	ops, isObj := v.(map[string]any)
	if !isObj {
		return whereCompare(path, field, "$eq", v)
	}
	if len(ops) == 0 {
		return nil, whereErr(path, "is an empty object: give a value or an operator such as {\"$eq\": ...}")
	}
	names := make([]string, 0, len(ops))
	for op := range ops {
		names = append(names, op)
	}
	sort.Strings(names)
	clauses := make([]v2.WhereClause, 0, len(names))
	for _, op := range names {
		c, err := whereCompare(path+"."+op, field, op, ops[op])
		if err != nil {
			return nil, err
		}
		clauses = append(clauses, c)
	}
	if len(clauses) == 1 {
		return clauses[0], nil
	}
	return v2.And(clauses...), nil
}

func whereCompare(path, field, op string, v any) (v2.WhereClause, error) {
	switch op {
	case "$eq", "$ne":
		return whereScalar(path, field, op, v)
	case "$gt", "$gte", "$lt", "$lte":
		n, ok := number(v)
		if !ok {
			return nil, whereErr(path, "%s compares numbers, got a %s", op, jsonKind(v))
		}
		return numberClause(op, field, n), nil
	case "$in", "$nin":
		return whereList(path, field, op, v)
	case "$and", "$or":
		return nil, whereErr(path, "%s combines whole filters: write {%q: [{%q: ...}, ...]} instead of putting it inside a field", op, op, field)
	case "$contains", "$not_contains":
		return nil, whereErr(path, "%s filters the document text, which these tools do not offer; filter on metadata instead", op)
	default:
		return nil, whereErr(path, "unknown operator %q", op)
	}
}

func whereScalar(path, field, op string, v any) (v2.WhereClause, error) {
	eq := op == "$eq"
	switch x := v.(type) {
	case string:
		if eq {
			return v2.EqString(field, x), nil
		}
		return v2.NotEqString(field, x), nil
	case bool:
		if eq {
			return v2.EqBool(field, x), nil
		}
		return v2.NotEqBool(field, x), nil
	case []any:
		return nil, whereErr(path, "is a list: to match any of several values write {\"$in\": [...]}")
	}
	n, ok := number(v)
	if !ok {
		return nil, whereErr(path, "must be a string, a number or a boolean, got a %s", jsonKind(v))
	}
	return numberClause(op, field, n), nil
}

func numberClause(op, field string, n num) v2.WhereClause {
	if n.isInt {
		i := int(n.i)
		switch op {
		case "$eq":
			return v2.EqInt(field, i)
		case "$ne":
			return v2.NotEqInt(field, i)
		case "$gt":
			return v2.GtInt(field, i)
		case "$gte":
			return v2.GteInt(field, i)
		case "$lt":
			return v2.LtInt(field, i)
		default:
			return v2.LteInt(field, i)
		}
	}
	f := float32(n.f)
	switch op {
	case "$eq":
		return v2.EqFloat(field, f)
	case "$ne":
		return v2.NotEqFloat(field, f)
	case "$gt":
		return v2.GtFloat(field, f)
	case "$gte":
		return v2.GteFloat(field, f)
	case "$lt":
		return v2.LtFloat(field, f)
	default:
		return v2.LteFloat(field, f)
	}
}

// whereList translates $in / $nin: a non-empty list of values of one type.
func whereList(path, field, op string, v any) (v2.WhereClause, error) {
	list, ok := v.([]any)
	if !ok {
		switch x := v.(type) {
		case []string:
			list = make([]any, len(x))
			for i := range x {
				list[i] = x[i]
			}
		default:
			return nil, whereErr(path, "%s takes a list of values, got a %s", op, jsonKind(v))
		}
	}
	if len(list) == 0 {
		return nil, whereErr(path, "%s needs at least one value", op)
	}
	in := op == "$in"
	switch list[0].(type) {
	case string:
		out := make([]string, len(list))
		for i, x := range list {
			s, ok := x.(string)
			if !ok {
				return nil, whereErr(fmt.Sprintf("%s[%d]", path, i), "is a %s but the list starts with a string: all values must have one type", jsonKind(x))
			}
			out[i] = s
		}
		if in {
			return v2.InString(field, out...), nil
		}
		return v2.NinString(field, out...), nil
	case bool:
		out := make([]bool, len(list))
		for i, x := range list {
			b, ok := x.(bool)
			if !ok {
				return nil, whereErr(fmt.Sprintf("%s[%d]", path, i), "is a %s but the list starts with a boolean: all values must have one type", jsonKind(x))
			}
			out[i] = b
		}
		if in {
			return v2.InBool(field, out...), nil
		}
		return v2.NinBool(field, out...), nil
	}
	nums := make([]num, len(list))
	allInt := true
	for i, x := range list {
		n, ok := number(x)
		if !ok {
			return nil, whereErr(fmt.Sprintf("%s[%d]", path, i), "must be a string, a number or a boolean (all of one type), got a %s", jsonKind(x))
		}
		nums[i] = n
		allInt = allInt && n.isInt
	}
	if allInt {
		out := make([]int, len(nums))
		for i, n := range nums {
			out[i] = int(n.i)
		}
		if in {
			return v2.InInt(field, out...), nil
		}
		return v2.NinInt(field, out...), nil
	}
	out := make([]float32, len(nums))
	for i, n := range nums {
		out[i] = float32(n.f)
	}
	if in {
		return v2.InFloat(field, out...), nil
	}
	return v2.NinFloat(field, out...), nil
}
