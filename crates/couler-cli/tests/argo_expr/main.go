// argo-expr: evaluates Argo `when` strings and `{{…}}` templates the way Argo's controller
// does, with the libraries Argo itself uses (govaluate for `when`, expr for `{{=…}}` tags,
// sprig in the expression environment). It is the Argo side of Couler's differential tests
// (crates/couler-backends/tests/argo_decisions.rs); scripts/go-deps builds it.
//
// Protocol: one JSON object a line on stdin, one a line on stdout, in order:
//
//	{"kind": "when" | "text", "text": "...", "values": {"tasks.a.outputs.result": "42", ...}}
//	-> {"ok": true, "when": true}        (kind "when": substitution, then shouldExecute)
//	-> {"ok": true, "text": "..."}       (kind "text": substitution only)
//	-> {"ok": false, "error": "..."}     (what would make the node Error)
//
// What is reproduced (written from the behaviour of Argo v3.5-v4.1's source, not copied):
//   - the task is JSON-marshalled before substitution, so tags see JSON-escaped text and
//     expression tags are JSON-unmarshalled before they are compiled;
//   - one fasttemplate pass over `{{`…`}}`: simple tags are replaced by the value quoted with
//     strconv.Quote (inner part), unknown ones left as they are (allowUnresolved, as in
//     resolveDependencyReferences); `{{=…}}` tags are compiled and run by expr with the
//     environment Argo builds: the values with removeConflicts (a key that is a string prefix
//     of the next sorted key is dropped) expanded into nested maps, plus asInt, asFloat,
//     toJson, jsonpath (`$[*].KEY` only) and sprig's generic functions; the ternary shortcut
//     (`?` and `:` in the tag: the text before the first `?` is evaluated alone); an expression
//     that fails to compile or run, or yields nil, is written back unresolved;
//   - shouldExecute: govaluate parse, VARIABLE tokens turned into STRING tokens, evaluation,
//     and a non-bool result is an error.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/Knetic/govaluate"
	"github.com/Masterminds/sprig"
	"github.com/antonmedv/expr"
)

type request struct {
	Kind   string            `json:"kind"`
	Text   string            `json:"text"`
	Values map[string]string `json:"values"`
}

type response struct {
	Ok    bool    `json:"ok"`
	When  *bool   `json:"when,omitempty"`
	Text  *string `json:"text,omitempty"`
	Error string  `json:"error,omitempty"`
}

var sprigFuncs = sprig.GenericFuncMap()

func init() {
	delete(sprigFuncs, "env")
	delete(sprigFuncs, "expandenv")
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 64<<20)
	out := bufio.NewWriter(os.Stdout)
	enc := json.NewEncoder(out)
	for in.Scan() {
		var req request
		var resp response
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			resp = response{Error: "bad request: " + err.Error()}
		} else {
			resp = handle(req)
		}
		if err := enc.Encode(resp); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		out.Flush()
	}
}

func handle(req request) (resp response) {
	defer func() {
		if r := recover(); r != nil {
			resp = response{Error: fmt.Sprintf("panic: %v", r)}
		}
	}()
	text, err := substitute(req.Text, req.Values)
	if err != nil {
		return response{Error: err.Error()}
	}
	switch req.Kind {
	case "text":
		return response{Ok: true, Text: &text}
	case "when":
		b, err := shouldExecute(text)
		if err != nil {
			return response{Error: err.Error()}
		}
		return response{Ok: true, When: &b}
	}
	return response{Error: "unknown kind " + req.Kind}
}

// substitute marshals the field as Argo marshals the task, replaces the tags, and unmarshals.
func substitute(field string, values map[string]string) (string, error) {
	marshalled, err := json.Marshal(field)
	if err != nil {
		return "", err
	}
	body := string(marshalled[1 : len(marshalled)-1])
	env := environment(values)
	var b strings.Builder
	for {
		start := strings.Index(body, "{{")
		if start < 0 {
			b.WriteString(body)
			break
		}
		end := strings.Index(body[start+2:], "}}")
		if end < 0 {
			return "", fmt.Errorf("cannot find end tag=%q in the template=%q starting from %q", "}}", field, body[start:])
		}
		b.WriteString(body[:start])
		tag := body[start+2 : start+2+end]
		if strings.HasPrefix(tag, "=") {
			b.WriteString(expressionReplace(tag[1:], env))
		} else {
			b.WriteString(simpleReplace(tag, values))
		}
		body = body[start+2+end+2:]
	}
	var result string
	if err := json.Unmarshal([]byte(`"`+b.String()+`"`), &result); err != nil {
		return "", fmt.Errorf("the substituted task is not valid JSON: %v", err)
	}
	return result, nil
}

func simpleReplace(tag string, values map[string]string) string {
	v, ok := values[strings.TrimSpace(tag)]
	if !ok {
		return "{{" + tag + "}}"
	}
	q := strconv.Quote(v)
	return q[1 : len(q)-1]
}

func expressionReplace(expression string, env map[string]interface{}) string {
	unresolved := "{{=" + expression + "}}"
	if strings.Contains(expression, "?") && strings.Contains(expression, ":") && len(expression) >= 5 {
		parts := strings.SplitN(expression, "?", 2)
		cond, err := resolve(parts[0], env)
		if err != nil {
			return unresolved
		}
		expression = cond + "?" + parts[1]
	}
	result, err := resolve(expression, env)
	if err != nil {
		return unresolved
	}
	marshalled, err := json.Marshal(result)
	if err != nil {
		return unresolved
	}
	return string(marshalled[1 : len(marshalled)-1])
}

func resolve(expression string, env map[string]interface{}) (string, error) {
	var source string
	if err := json.Unmarshal([]byte(`"`+expression+`"`), &source); err != nil {
		return "", err
	}
	program, err := expr.Compile(source, expr.Env(env))
	if err != nil {
		return "", err
	}
	result, err := expr.Run(program, env)
	if err != nil {
		return "", err
	}
	if result == nil {
		return "", fmt.Errorf("nil result")
	}
	return fmt.Sprintf("%v", result), nil
}

// environment is Argo's expression environment: values after removeConflicts, expanded at
// dots into nested maps, plus the functions Argo registers.
func environment(values map[string]string) map[string]interface{} {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	kept := map[string]string{}
	for i, k := range keys {
		if i+1 < len(keys) && strings.HasPrefix(keys[i+1]+".", k) {
			continue
		}
		kept[k] = values[k]
	}
	env := map[string]interface{}{}
	for k, v := range kept {
		insert(env, strings.Split(k, "."), v)
	}
	env["asInt"] = asInt
	env["asFloat"] = asFloat
	env["toJson"] = toJSON
	env["jsonpath"] = jsonPath
	env["sprig"] = sprigFuncs
	return env
}

func insert(m map[string]interface{}, path []string, v string) {
	if len(path) == 1 {
		if _, isMap := m[path[0]].(map[string]interface{}); !isMap {
			m[path[0]] = v
		}
		return
	}
	sub, ok := m[path[0]].(map[string]interface{})
	if !ok {
		sub = map[string]interface{}{}
		m[path[0]] = sub
	}
	insert(sub, path[1:], v)
}

// asInt and asFloat behave as expr's `int` and `float` builtins (Argo 4 aliases them).
func asInt(v interface{}) int {
	switch x := v.(type) {
	case string:
		i, err := strconv.Atoi(x)
		if err != nil {
			panic(fmt.Sprintf("invalid operation: int(%q)", x))
		}
		return i
	case int:
		return x
	case float64:
		return int(x)
	}
	panic(fmt.Sprintf("invalid operation: int(%T)", v))
}

func asFloat(v interface{}) float64 {
	switch x := v.(type) {
	case string:
		f, err := strconv.ParseFloat(x, 64)
		if err != nil {
			panic(fmt.Sprintf("invalid operation: float(%q)", x))
		}
		return f
	case int:
		return float64(x)
	case float64:
		return x
	}
	panic(fmt.Sprintf("invalid operation: float(%T)", v))
}

func toJSON(v interface{}) string {
	out, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(out)
}

// jsonPath supports the one form Couler emits, `$[*].KEY` over a JSON list of objects.
func jsonPath(doc interface{}, path string) interface{} {
	s, ok := doc.(string)
	if !ok {
		panic(fmt.Sprintf("jsonpath: expected a JSON string, got %T", doc))
	}
	var list []map[string]interface{}
	if err := json.Unmarshal([]byte(s), &list); err != nil {
		panic(err)
	}
	if !strings.HasPrefix(path, "$[*].") {
		panic("jsonpath: the harness supports only $[*].KEY, not " + path)
	}
	key := strings.TrimPrefix(path, "$[*].")
	out := []interface{}{}
	for _, o := range list {
		if v, ok := o[key]; ok {
			out = append(out, v)
		}
	}
	return out
}

// shouldExecute is Argo's evaluation of a `when` after substitution.
func shouldExecute(when string) (bool, error) {
	if when == "" {
		return true, nil
	}
	parsed, err := govaluate.NewEvaluableExpression(when)
	if err != nil {
		return false, fmt.Errorf("Invalid 'when' expression '%s': %v", when, err)
	}
	tokens := parsed.Tokens()
	for i, tok := range tokens {
		if tok.Kind == govaluate.VARIABLE {
			tok.Kind = govaluate.STRING
			tokens[i] = tok
		}
	}
	parsed, err = govaluate.NewEvaluableExpressionFromTokens(tokens)
	if err != nil {
		return false, fmt.Errorf("Failed to parse 'when' expression '%s': %v", when, err)
	}
	result, err := parsed.Evaluate(nil)
	if err != nil {
		return false, fmt.Errorf("Failed to evaluate 'when' expression '%s': %v", when, err)
	}
	b, ok := result.(bool)
	if !ok {
		return false, fmt.Errorf("Expected boolean evaluation for '%s'. Got %v", when, result)
	}
	return b, nil
}
