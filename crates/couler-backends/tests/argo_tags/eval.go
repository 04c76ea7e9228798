// Substitutes Argo template tags the way Argo's util/template does, for the memoize-key tests
// (crates/couler-backends/tests/argo_memoize.rs): simple tags `{{name}}` from a flat map, and
// expression tags `{{=…}}` evaluated by expr with Argo's environment: the flat map expanded into
// nested maps after removing a key that is the prefix of another (util/expand), plus `sprig` and
// `toJson` (util/expr/env). Built against Debian's packages: GO111MODULE=off GOPATH=/usr/share/gocode.
//
// stdin: a JSON list of {"text": T, "values": {"inputs.parameters.a": "1", ...}}
// stdout: a JSON list of {"out": substituted text} or {"error": message}
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/Masterminds/sprig"
	"github.com/antonmedv/expr"
)

type job struct {
	Text   string            `json:"text"`
	Values map[string]string `json:"values"`
}

type result struct {
	Out   string `json:"out,omitempty"`
	Error string `json:"error,omitempty"`
}

// env is Argo's expression environment for a replace map.
func env(flat map[string]string) map[string]interface{} {
	keys := make([]string, 0, len(flat))
	for k := range flat {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	nested := map[string]interface{}{}
	for i, k := range keys {
		if i+1 < len(keys) && strings.HasPrefix(keys[i+1], k+".") {
			continue // removeConflicts: the less specific key goes
		}
		parts := strings.Split(k, ".")
		m := nested
		for _, p := range parts[:len(parts)-1] {
			next, ok := m[p].(map[string]interface{})
			if !ok {
				next = map[string]interface{}{}
				m[p] = next
			}
			m = next
		}
		m[parts[len(parts)-1]] = flat[k]
	}
	nested["sprig"] = sprig.GenericFuncMap()
	nested["toJson"] = func(v interface{}) string {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		return string(b)
	}
	return nested
}

func substitute(text string, flat map[string]string) (string, error) {
	var out strings.Builder
	for {
		i := strings.Index(text, "{{")
		if i < 0 {
			out.WriteString(text)
			return out.String(), nil
		}
		j := strings.Index(text[i+2:], "}}")
		if j < 0 {
			return "", fmt.Errorf("unterminated tag in %q", text)
		}
		tag := text[i+2 : i+2+j]
		out.WriteString(text[:i])
		text = text[i+2+j+2:]
		if !strings.HasPrefix(tag, "=") {
			v, ok := flat[strings.TrimSpace(tag)]
			if !ok {
				return "", fmt.Errorf("failed to resolve {{%s}}", tag)
			}
			out.WriteString(v)
			continue
		}
		var source string
		if err := json.Unmarshal([]byte(`"`+tag[1:]+`"`), &source); err != nil {
			return "", fmt.Errorf("failed to unmarshall JSON expression: %v", err)
		}
		e := env(flat)
		program, err := expr.Compile(source, expr.Env(e))
		if err != nil {
			return "", err
		}
		v, err := expr.Run(program, e)
		if err != nil {
			return "", err
		}
		if v == nil {
			return "", fmt.Errorf("failed to evaluate expression %q", source)
		}
		out.WriteString(fmt.Sprintf("%v", v))
	}
}

func main() {
	var jobs []job
	if err := json.NewDecoder(os.Stdin).Decode(&jobs); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	results := make([]result, len(jobs))
	for i, j := range jobs {
		if out, err := substitute(j.Text, j.Values); err != nil {
			results[i].Error = err.Error()
		} else {
			results[i].Out = out
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(results); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}
