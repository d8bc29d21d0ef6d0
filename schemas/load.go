package schemas

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // time zones must resolve the same on every machine

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"github.com/shopspring/decimal"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"gopkg.in/yaml.v3"
)

//go:embed config.schema.json
var configSchemaJSON []byte

// ConfigSchemaJSON returns the JSON Schema of the configuration file.
func ConfigSchemaJSON() []byte { return bytes.Clone(configSchemaJSON) }

// DefaultGracePeriod applies when the configuration names none (BILLING.md section 4).
const DefaultGracePeriod = 72 * time.Hour

// Problem is one thing wrong with a configuration.
type Problem struct {
	Path   string // field path, e.g. tenants[0].timezone
	Line   int    // line in the file, 0 when unknown
	Reason string
}

// String formats the problem as path (line N): reason.
func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s (line %d): %s", p.Path, p.Line, p.Reason)
	}
	return fmt.Sprintf("%s: %s", p.Path, p.Reason)
}

// ConfigError lists every problem of a refused configuration.
type ConfigError struct {
	File     string
	Problems []Problem
}

// Error lists every problem, one a line.
func (e *ConfigError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "invalid configuration %s: %d problem(s)", e.File, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p.String())
	}
	return b.String()
}

// MaxConfigBytes bounds the size of a configuration file; a larger one is refused before
// it is decoded.
const MaxConfigBytes = 4 << 20

// MaxAliasNodes and MaxAliasBytes bound what YAML aliases add to a configuration once
// expanded (nodes, and bytes of scalar text): a few hundred bytes of nested anchors and
// aliases ("billion laughs") expand to billions of nodes.
const (
	MaxAliasNodes = 100_000
	MaxAliasBytes = MaxConfigBytes
)

// LoadConfig reads, schema-checks and validates the configuration at path. A configuration
// with any problem is refused whole with a *ConfigError listing all of them.
func LoadConfig(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read configuration %s: %w", path, err)
	}
	// read one byte past the limit, no more: the path may be a device or a pipe
	data, err := io.ReadAll(io.LimitReader(f, MaxConfigBytes+1))
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("read configuration %s: %w", path, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("resolve configuration path %s: %w", path, err)
	}
	return ParseConfig(data, path, filepath.Dir(abs))
}

// ParseConfig validates configuration text; name is used in errors, dir resolves relative
// paths. Every problem is listed: those of the schema, of values that cannot be read and of
// the checks the schema cannot make, each once per field.
func ParseConfig(data []byte, name, dir string) (*Config, error) {
	if len(data) > MaxConfigBytes {
		return nil, &ConfigError{File: name, Problems: []Problem{{Path: "(file)", Reason: "larger than 4 MiB"}}}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		line, _ := lineColumn(err.Error())
		return nil, &ConfigError{File: name, Problems: []Problem{{Path: "(file)", Line: line, Reason: err.Error()}}}
	}
	if len(root.Content) == 0 {
		return nil, &ConfigError{File: name, Problems: []Problem{{Path: "(file)", Reason: "empty configuration"}}}
	}
	doc := root.Content[0]
	// before anything expands the aliases (nodeToJSON, Decode)
	if p := checkAliases(doc); p != nil {
		return nil, &ConfigError{File: name, Problems: []Problem{*p}}
	}
	inst, err := nodeToJSON(doc)
	if err != nil {
		return nil, &ConfigError{File: name, Problems: []Problem{{Path: "(file)", Reason: err.Error()}}}
	}
	probs := validateSchema(inst, doc)
	if doc.Kind != yaml.MappingNode { // the schema said it is not an object: nothing to decode
		return nil, &ConfigError{File: name, Problems: probs}
	}
	cfg := &Config{}
	decoded := true
	if err := doc.Decode(cfg); err != nil {
		var te *yaml.TypeError
		decoded = errors.As(err, &te) // a TypeError leaves the rest of the file decoded
		probs = addProblems(probs, yamlProblems(err, doc))
	}
	cfg.Dir = dir
	if !hasKey(doc, "grace_period") {
		cfg.GracePeriod.Duration = DefaultGracePeriod
	}
	if !hasKey(doc, "lock_ttl") {
		cfg.LockTTL.Duration = DefaultLockTTL
	}
	cfg.Limits = cfg.Limits.withDefaults()
	if decoded {
		sem := cfg.validate()
		for i := range sem {
			sem[i].Line = lineOf(doc, sem[i].Path)
		}
		probs = addProblems(probs, sem)
	}
	if len(probs) > 0 {
		sort.SliceStable(probs, func(i, j int) bool { return probs[i].Line < probs[j].Line })
		return nil, &ConfigError{File: name, Problems: probs}
	}
	return cfg, nil
}

// addProblems appends the problems of a later check, leaving out those about a field an
// earlier one already reported (a negative amount is both a schema and a semantic problem).
func addProblems(probs, more []Problem) []Problem {
	for _, m := range more {
		dup := false
		for _, p := range probs {
			if (m.Path != "(file)" && m.Path == p.Path) || (m.Path == "(file)" && m.Line > 0 && m.Line == p.Line) {
				dup = true
				break
			}
		}
		if !dup {
			probs = append(probs, m)
		}
	}
	return probs
}

// hasKey reports whether mapping node n has the key.
func hasKey(n *yaml.Node, key string) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return true
		}
	}
	return false
}

// Resolve makes a relative local path relative to the configuration's directory; object
// store URLs and absolute paths are returned as they are.
func (c *Config) Resolve(p string) string {
	if p == "" || strings.Contains(p, "://") || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Dir, p)
}

var schema = func() *jsonschema.Schema {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(configSchemaJSON))
	if err != nil {
		panic(fmt.Sprintf("embedded config schema: %v", err)) // a build defect, caught by tests
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("config.schema.json", doc); err != nil {
		panic(fmt.Sprintf("embedded config schema: %v", err))
	}
	return c.MustCompile("config.schema.json")
}()

var printer = message.NewPrinter(language.English)

func validateSchema(inst any, doc *yaml.Node) []Problem {
	err := schema.Validate(inst)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []Problem{{Path: "(file)", Reason: err.Error()}}
	}
	var probs []Problem
	add := func(path, reason string) {
		probs = append(probs, Problem{Path: path, Line: lineOf(doc, path), Reason: reason})
	}
	var leaves func(e *jsonschema.ValidationError) []*jsonschema.ValidationError
	leaves = func(e *jsonschema.ValidationError) []*jsonschema.ValidationError {
		if len(e.Causes) == 0 {
			return []*jsonschema.ValidationError{e}
		}
		var out []*jsonschema.ValidationError
		for _, c := range e.Causes {
			out = append(out, leaves(c)...)
		}
		return out
	}
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if _, ok := e.ErrorKind.(*kind.AnyOf); ok && len(e.Causes) > 0 {
			// one problem for the field, naming every form it may take
			var reasons []string
			for _, l := range leaves(e) {
				reasons = append(reasons, reason(l))
			}
			add(fieldPath(e.InstanceLocation), strings.Join(reasons, ", or "))
			return
		}
		if len(e.Causes) == 0 {
			p := fieldPath(e.InstanceLocation)
			switch k := e.ErrorKind.(type) {
			case *kind.AdditionalProperties: // one problem per unknown field, at the field
				for _, name := range k.Properties {
					add(childPath(p, name), "unknown field")
				}
			case *kind.Required: // one problem per missing field, at the field
				for _, name := range k.Missing {
					add(childPath(p, name), "missing required field")
				}
			default:
				add(p, reason(e))
			}
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	sort.SliceStable(probs, func(i, j int) bool { return probs[i].Line < probs[j].Line })
	return probs
}

// reason words a schema error; dates and timestamps say what they must look like rather
// than quoting the pattern.
func reason(e *jsonschema.ValidationError) string {
	if v, ok := e.ErrorKind.(*kind.Pattern); ok {
		switch {
		case strings.HasSuffix(e.SchemaURL, "/$defs/timestamp"):
			return fmt.Sprintf("%q is not an RFC 3339 timestamp with offset", v.Got)
		case strings.HasSuffix(e.SchemaURL, "/$defs/date"):
			return fmt.Sprintf("%q is not a date YYYY-MM-DD", v.Got)
		}
	}
	return e.ErrorKind.LocalizedString(printer)
}

// childPath is the path of field name inside the object at path.
func childPath(path, name string) string {
	if path == "(root)" {
		return name
	}
	return path + "." + name
}

// fieldPath turns JSON-pointer tokens into tenants[0].timezone.
func fieldPath(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		if _, err := strconv.Atoi(t); err == nil {
			fmt.Fprintf(&b, "[%s]", t)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(t)
	}
	if b.Len() == 0 {
		return "(root)"
	}
	return b.String()
}

// lineOf finds the line of a field path in the YAML tree, 0 when it is not there.
func lineOf(n *yaml.Node, path string) int {
	if path == "(root)" || path == "" {
		return n.Line
	}
	cur := n
	for _, part := range strings.FieldsFunc(path, func(r rune) bool { return r == '.' || r == '[' }) {
		part = strings.TrimSuffix(part, "]")
		switch cur.Kind {
		case yaml.MappingNode:
			found := false
			for i := 0; i+1 < len(cur.Content); i += 2 {
				if cur.Content[i].Value == part {
					cur, found = cur.Content[i+1], true
					break
				}
			}
			if !found {
				return cur.Line
			}
		case yaml.SequenceNode:
			i, err := strconv.Atoi(part)
			if err != nil || i >= len(cur.Content) {
				return cur.Line
			}
			cur = cur.Content[i]
		default:
			return cur.Line
		}
	}
	return cur.Line
}

// aliasCost is what a node amounts to with its aliases expanded.
type aliasCost struct{ nodes, bytes int64 }

// checkAliases refuses a document whose aliases, expanded, add more than MaxAliasNodes
// nodes or MaxAliasBytes bytes of text to what is written, or that has an alias inside the
// value of its own anchor. It costs one walk of the written nodes: the expanded size of an
// anchored value is computed once and reused by every alias to it.
func checkAliases(doc *yaml.Node) *Problem {
	var written aliasCost
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		written.nodes++
		written.bytes += int64(len(n.Value))
		if n.Kind != yaml.AliasNode {
			for _, c := range n.Content {
				walk(c)
			}
		}
	}
	walk(doc)
	e := &aliasExpander{
		memo:  map[*yaml.Node]aliasCost{},
		open:  map[*yaml.Node]bool{},
		limit: aliasCost{written.nodes + MaxAliasNodes, written.bytes + MaxAliasBytes},
	}
	c := e.cost(doc)
	switch {
	case e.cycle != nil:
		return &Problem{Path: "(file)", Line: e.cycle.Line, Reason: fmt.Sprintf("alias *%s is inside the value of its own anchor (it contains itself)", e.cycle.Value)}
	case c.nodes > e.limit.nodes:
		return &Problem{Path: "(file)", Reason: fmt.Sprintf("aliases expand to more than %d nodes", MaxAliasNodes)}
	case c.bytes > e.limit.bytes:
		return &Problem{Path: "(file)", Reason: fmt.Sprintf("aliases expand to more than %d MiB of text", MaxAliasBytes>>20)}
	}
	return nil
}

type aliasExpander struct {
	memo  map[*yaml.Node]aliasCost // expanded cost of anchored values, computed once
	open  map[*yaml.Node]bool      // nodes being counted: an alias to one of them is a cycle
	limit aliasCost
	cycle *yaml.Node // the alias found inside its own anchor's value
}

// cost counts n with aliases expanded; it stops early, with a cost past the limit, once
// the limit is passed or a cycle is found.
func (e *aliasExpander) cost(n *yaml.Node) aliasCost {
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return aliasCost{1, 0}
		}
		if e.open[n.Alias] {
			e.cycle = n
			return e.limit
		}
		if c, ok := e.memo[n.Alias]; ok {
			return c
		}
		c := e.cost(n.Alias)
		e.memo[n.Alias] = c
		return c
	}
	if c, ok := e.memo[n]; ok {
		return c
	}
	e.open[n] = true
	defer delete(e.open, n)
	c := aliasCost{1, int64(len(n.Value))}
	for _, k := range n.Content {
		kc := e.cost(k)
		c.nodes += kc.nodes
		c.bytes += kc.bytes
		if e.cycle != nil || c.nodes > e.limit.nodes || c.bytes > e.limit.bytes {
			return c
		}
	}
	if n.Anchor != "" {
		e.memo[n] = c
	}
	return c
}

// nodeToJSON converts YAML to JSON values for schema validation. Scalars keep the text as
// written: timestamps stay strings, numbers become json.Number, never float64.
func nodeToJSON(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return nodeToJSON(n.Content[0])
	case yaml.AliasNode:
		return nodeToJSON(n.Alias)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			v, err := nodeToJSON(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := nodeToJSON(c)
			if err != nil {
				return nil, err
			}
			s = append(s, v)
		}
		return s, nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, nil
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				return nil, fmt.Errorf("line %d: %w", n.Line, err)
			}
			return b, nil
		case "!!int", "!!float":
			if _, err := decimal.NewFromString(n.Value); err != nil {
				return n.Value, nil // 0x1F, .inf and the like: let the schema refuse a string
			}
			return json.Number(n.Value), nil
		default:
			return n.Value, nil
		}
	}
	return nil, fmt.Errorf("line %d: unsupported YAML node", n.Line)
}

// yamlProblems turns decoding errors into problems, placed at their field where the
// message gives a line (and a column, for nodeError).
func yamlProblems(err error, doc *yaml.Node) []Problem {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		line, _ := lineColumn(err.Error())
		return []Problem{{Path: "(file)", Line: line, Reason: err.Error()}}
	}
	at := map[[2]int]string{}
	onLine := map[int][]string{}
	var index func(n *yaml.Node, path string)
	index = func(n *yaml.Node, path string) {
		at[[2]int{n.Line, n.Column}] = path
		onLine[n.Line] = append(onLine[n.Line], path)
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				index(n.Content[i+1], childPath(path, n.Content[i].Value))
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				index(c, fmt.Sprintf("%s[%d]", path, i))
			}
		}
	}
	index(doc, "(root)")
	probs := make([]Problem, 0, len(te.Errors))
	for _, e := range te.Errors {
		p := Problem{Path: "(file)", Reason: e}
		line, col := lineColumn(e)
		if line > 0 {
			p.Line = line
			p.Reason = e[strings.Index(e, ": ")+2:]
			if path, ok := at[[2]int{line, col}]; ok && col > 0 {
				p.Path = path
			} else if paths := onLine[line]; len(paths) == 1 {
				p.Path = paths[0]
			}
		}
		probs = append(probs, p)
	}
	return probs
}

// lineColumn reads the "line N: " or "line N, column C: " that yaml messages carry (after
// an optional "yaml: "), 0 when there is none.
func lineColumn(msg string) (line, col int) {
	msg = strings.TrimPrefix(msg, "yaml: ")
	if _, err := fmt.Sscanf(msg, "line %d, column %d:", &line, &col); err == nil {
		return line, col
	}
	if _, err := fmt.Sscanf(msg, "line %d:", &line); err == nil {
		return line, 0
	}
	return 0, 0
}
