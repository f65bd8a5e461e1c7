package config

import (
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/embly/embly/internal/service/outbound"
	"github.com/embly/embly/internal/store"
)

// runtimes are the values `runtime` accepts, in the order messages list them.
var runtimes = []string{"go", "rust", "c", "wasm"}

// gatewayTypes are the gateway kinds Embly knows of; only http is served yet.
var gatewayTypes = []string{"http", "websocket", "tcp"}

// databaseTypes are the values a database block's first label accepts.
var databaseTypes = []string{"kv", "vinyl"}

// topBlocks lists the block types of the file's top level, for messages.
var topBlocks = []string{"function", "files", "gateway", "database", "dependencies"}

var (
	fileSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "store"}},
		Blocks: []hcl.BlockHeaderSchema{
			{Type: "function", LabelNames: []string{"name"}},
			{Type: "files", LabelNames: []string{"name"}},
			{Type: "database", LabelNames: []string{"type", "name"}},
			{Type: "dependencies"},
			// gateway is missing on purpose: its label is optional, which a
			// BlockHeaderSchema cannot say, so decodeFile reads those blocks itself.
		},
	}
	// kvSchema is the body of `database "kv" "NAME" {}`: nothing yet.
	kvSchema    = &hcl.BodySchema{}
	vinylSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "definition", Required: true}},
		Blocks:     []hcl.BlockHeaderSchema{{Type: "record", LabelNames: []string{"message"}}},
	}
	recordSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "primary_key", Required: true}},
		Blocks:     []hcl.BlockHeaderSchema{{Type: "index", LabelNames: []string{"field"}}},
	}
	indexSchema    = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "unique"}}}
	functionSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "runtime", Required: true},
		{Name: "path", Required: true},
		{Name: "sources"},
		{Name: "reuse"},
		{Name: "max_children"},
		{Name: "allowed_hosts"},
		{Name: "max_memory"},
		{Name: "cpu_budget"},
		{Name: "max_concurrency"},
	}}
	filesSchema   = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "path", Required: true}}}
	gatewaySchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{
			{Name: "type", Required: true},
			{Name: "port", Required: true},
			{Name: "function"},
		},
		Blocks: []hcl.BlockHeaderSchema{{Type: "route", LabelNames: []string{"prefix"}}},
	}
	routeSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "function"},
		{Name: "files"},
		{Name: "timeout"},
		{Name: "max_body"},
	}}
)

// Reference kinds: the root names of `${function.NAME}` and `${files.NAME}`.
const (
	kindFunction = "function"
	kindFiles    = "files"
)

// decoder turns a parsed body into a Project, collecting every diagnostic on
// the way instead of stopping at the first.
type decoder struct {
	dir     string
	project *Project
	diags   hcl.Diagnostics
	// ctx resolves `${function.NAME}` and `${files.NAME}`; it is built once
	// every function and files block is known, before gateways are read.
	ctx *hcl.EvalContext
}

func (d *decoder) errorf(rng hcl.Range, format string, args ...any) {
	d.diags = append(d.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf(format, args...),
		Subject:  rng.Ptr(),
	})
}

func (d *decoder) decodeFile(body *hclsyntax.Body) {
	if d.checkExpressions(body); d.diags.HasErrors() {
		return
	}
	content := d.content(body, fileSchema, "", body.SrcRange, "gateway")
	if a := content.Attributes["store"]; a != nil {
		d.decodeStore(a)
	}
	for _, b := range content.Blocks {
		switch b.Type {
		case "function":
			d.decodeFunction(b)
		case "files":
			d.decodeFiles(b)
		case "database":
			d.decodeDatabase(b)
		case "dependencies":
			d.decodeDependencies(b)
		}
	}
	d.ctx = d.evalContext()
	ports := map[int]*Gateway{}
	for _, b := range body.Blocks {
		if b.Type == "gateway" {
			d.decodeGateway(b, ports)
		}
	}
}

// content extracts what schema describes from body. HCL's Content would also
// reject unknown names, but in generic words ("An argument named "pth" is not
// expected here"); this names the block the mistake is in and suggests the
// closest valid name. owner is the block as written (`function "hello"`), or
// "" at the top level; def is where missing attributes are reported;
// extraBlocks are block types the caller reads from the syntax body itself.
func (d *decoder) content(body hcl.Body, schema *hcl.BodySchema, owner string, def hcl.Range, extraBlocks ...string) *hcl.BodyContent {
	// Required attributes are checked here rather than by HCL, to say which
	// block lacks them and point at its header instead of its brace.
	lenient := &hcl.BodySchema{Blocks: schema.Blocks}
	for _, a := range schema.Attributes {
		lenient.Attributes = append(lenient.Attributes, hcl.AttributeSchema{Name: a.Name})
	}
	content, _, diags := body.PartialContent(lenient)
	d.diags = append(d.diags, diags...)
	var suggested []string
	if sb, ok := body.(*hclsyntax.Body); ok {
		suggested = d.unknowns(sb, schema, content, owner, extraBlocks)
	}
	for _, a := range schema.Attributes {
		// A misspelt attribute already has an error that suggests this
		// name; "missing path" next to "pth; did you mean path" is noise.
		if a.Required && content.Attributes[a.Name] == nil && !slices.Contains(suggested, a.Name) {
			d.errorf(def, "%s is missing required attribute %q", owner, a.Name)
		}
	}
	return content
}

// unknowns reports every attribute and block of body that schema does not
// name, with a suggestion when one is a likely typo. It returns the attribute
// names it suggested.
func (d *decoder) unknowns(body *hclsyntax.Body, schema *hcl.BodySchema, content *hcl.BodyContent, owner string, extraBlocks []string) (suggested []string) {
	var attrNames, unsetAttrs, blockNames []string
	for _, a := range schema.Attributes {
		attrNames = append(attrNames, a.Name)
		if content.Attributes[a.Name] == nil {
			unsetAttrs = append(unsetAttrs, a.Name)
		}
	}
	for _, b := range schema.Blocks {
		blockNames = append(blockNames, b.Type)
	}
	blockNames = append(blockNames, extraBlocks...)

	for _, attr := range sortedAttributes(body) {
		name := attr.Name
		if slices.Contains(attrNames, name) {
			continue
		}
		var msg string
		switch {
		case owner == "" && slices.Contains(blockNames, name):
			msg = fmt.Sprintf("%q is a block, not an attribute; write %s { ... }", name, name)
		case owner == "":
			msg = fmt.Sprintf("unexpected attribute %q; the top level of %s holds blocks (%s) and the attribute %s%s",
				name, FileName, strings.Join(topBlocks, ", "), quoteList(attrNames), didYouMean(name, append(blockNames, attrNames...)))
		default:
			msg = fmt.Sprintf("%s has no attribute %q", owner, name)
			if s := suggest(name, unsetAttrs); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
				suggested = append(suggested, s)
			} else if slices.Contains(blockNames, name) {
				msg += fmt.Sprintf("; %q is a block: write %s ... { ... }", name, name)
			} else if len(attrNames) > 0 {
				msg += "; it takes " + quoteList(attrNames)
			}
		}
		d.errorf(attr.NameRange, "%s", msg)
	}

	for _, b := range body.Blocks {
		if slices.Contains(blockNames, b.Type) {
			continue
		}
		where := ""
		if owner != "" {
			where = " in " + owner
		}
		msg := fmt.Sprintf("unknown block type %q%s", b.Type, where)
		switch hint := didYouMean(b.Type, blockNames); {
		case hint != "":
			msg += hint
		case slices.Contains(attrNames, b.Type):
			msg += fmt.Sprintf("; %q is an attribute: write %s = ...", b.Type, b.Type)
		case len(blockNames) > 0:
			msg += "; valid block types are " + quoteList(blockNames)
		default:
			msg += "; " + owner + " takes no blocks"
		}
		d.errorf(b.TypeRange, "%s", msg)
	}
	return suggested
}

func sortedAttributes(body *hclsyntax.Body) []*hclsyntax.Attribute {
	attrs := make([]*hclsyntax.Attribute, 0, len(body.Attributes))
	for _, a := range body.Attributes {
		attrs = append(attrs, a)
	}
	sort.Slice(attrs, func(i, j int) bool { return attrs[i].SrcRange.Start.Byte < attrs[j].SrcRange.Start.Byte })
	return attrs
}

func (d *decoder) decodeFunction(b *hcl.Block) {
	name := b.Labels[0]
	owner := fmt.Sprintf("function %q", name)
	c := d.content(b.Body, functionSchema, owner, b.DefRange)
	d.checkName("function", name, b.LabelRanges[0])
	if first := d.project.Function(name); first != nil {
		d.errorf(b.LabelRanges[0], "function %q is declared twice; the first is on line %d", name, first.Range.Start.Line)
		return
	}
	fn := &Function{Name: name, Range: b.DefRange}
	// A function with mistakes is still added, so that references to it
	// resolve and do not add a second, misleading error.
	d.project.Functions = append(d.project.Functions, fn)

	if a := c.Attributes["runtime"]; a != nil {
		if rt, ok := d.str(a.Expr, owner+": runtime"); ok {
			if slices.Contains(runtimes, rt) {
				fn.Runtime = rt
			} else {
				d.errorf(a.Expr.Range(), "%s: unknown runtime %q; valid runtimes are %s%s",
					owner, rt, quoteList(runtimes), didYouMean(rt, runtimes))
			}
		}
	}
	if a := c.Attributes["path"]; a != nil {
		want := wantDir
		switch fn.Runtime {
		case "wasm":
			want = wantWasm
		case "":
			want = wantAny // unknown runtime: check only that it exists
		}
		fn.Path = d.path(a, owner, want)
	}
	if a := c.Attributes["sources"]; a != nil {
		fn.Sources = d.sources(a, owner)
	}
	if a := c.Attributes["reuse"]; a != nil {
		fn.Reuse, _ = d.boolean(a.Expr, owner+": reuse")
	}
	if a := c.Attributes["max_children"]; a != nil {
		fn.MaxChildren, _ = d.integer(a.Expr, owner+": max_children", "like 1000", 0, 1<<20)
	}
	if a := c.Attributes["allowed_hosts"]; a != nil {
		fn.AllowedHosts = d.allowedHosts(a, owner)
	}
	if a := c.Attributes["max_memory"]; a != nil {
		// One wasm page is the smallest memory; wasm32 addresses 4 GiB.
		fn.MaxMemory, _ = d.size(a.Expr, owner+": max_memory", `"64MiB"`, 64<<10, 4<<30)
	}
	if a := c.Attributes["cpu_budget"]; a != nil {
		fn.CPUBudget, _ = d.duration(a.Expr, owner+": cpu_budget", `"2s"`)
	}
	if a := c.Attributes["max_concurrency"]; a != nil {
		fn.MaxConcurrency, _ = d.integer(a.Expr, owner+": max_concurrency", "like 100", 0, 1<<20)
	}
}

// allowedHosts reads a list of "scheme://host[:port]" entries, pointing at
// the entry that is wrong when one is. The embly/http service parses them
// again with the same code, so what loads is what it accepts.
func (d *decoder) allowedHosts(a *hcl.Attribute, owner string) []string {
	elems, diags := hcl.ExprList(a.Expr)
	if diags.HasErrors() {
		d.errorf(a.Expr.Range(), `%s: allowed_hosts must be a list of origins, like ["https://api.example.com"]`, owner)
		return nil
	}
	var hosts []string
	seen := map[string]bool{}
	for _, e := range elems {
		h, ok := d.str(e, owner+": each of allowed_hosts")
		if !ok {
			continue
		}
		if _, err := outbound.ParsePattern(h); err != nil {
			d.errorf(e.Range(), "%s: allowed_hosts entry %q %v", owner, h, err)
			continue
		}
		if seen[h] {
			d.errorf(e.Range(), "%s: allowed_hosts lists %q twice", owner, h)
			continue
		}
		seen[h] = true
		hosts = append(hosts, h)
	}
	return hosts
}

func (d *decoder) decodeFiles(b *hcl.Block) {
	name := b.Labels[0]
	owner := fmt.Sprintf("files %q", name)
	c := d.content(b.Body, filesSchema, owner, b.DefRange)
	d.checkName("files", name, b.LabelRanges[0])
	if first := d.project.FilesByName(name); first != nil {
		d.errorf(b.LabelRanges[0], "files %q is declared twice; the first is on line %d", name, first.Range.Start.Line)
		return
	}
	f := &Files{Name: name, Range: b.DefRange}
	d.project.Files = append(d.project.Files, f)
	if a := c.Attributes["path"]; a != nil {
		f.Path = d.path(a, owner, wantDir)
	}
}

func (d *decoder) decodeDatabase(b *hcl.Block) {
	typ, name := b.Labels[0], b.Labels[1]
	if !slices.Contains(databaseTypes, typ) {
		d.errorf(b.LabelRanges[0], "unknown database type %q; valid types are %s%s",
			typ, quoteList(databaseTypes), didYouMean(typ, databaseTypes))
	}
	d.checkName("database", name, b.LabelRanges[1])
	if first := d.project.Database(name); first != nil {
		d.errorf(b.LabelRanges[1], "database %q is declared twice; the first is on line %d", name, first.Range.Start.Line)
		return
	}
	db := &Database{Type: typ, Name: name, Body: b.Body, Range: b.DefRange}
	owner := fmt.Sprintf("database %q %q", typ, name)
	switch typ {
	case "kv":
		d.content(b.Body, kvSchema, owner, b.DefRange)
	case "vinyl":
		d.decodeVinyl(db, b, owner)
	}
	d.project.Databases = append(d.project.Databases, db)
}

// decodeVinyl reads a vinyl database's definition and record blocks. That
// the messages and fields exist is checked against the .proto later, by the
// record store (internal/vinyl), which reports at these blocks' ranges.
func (d *decoder) decodeVinyl(db *Database, b *hcl.Block, owner string) {
	c := d.content(b.Body, vinylSchema, owner, b.DefRange)
	if a := c.Attributes["definition"]; a != nil {
		db.Definition = d.protoFile(a, owner)
		db.DefinitionRange = a.Expr.Range()
	}
	for _, rb := range c.Blocks {
		rec := &Record{Message: rb.Labels[0], MessageRange: rb.LabelRanges[0], Range: rb.DefRange}
		rowner := fmt.Sprintf("record %q", rec.Message)
		if first := db.Record(rec.Message); first != nil {
			d.errorf(rb.LabelRanges[0], "%s is declared twice in %s; the first is on line %d", rowner, owner, first.Range.Start.Line)
			continue
		}
		db.Records = append(db.Records, rec)
		rc := d.content(rb.Body, recordSchema, rowner, rb.DefRange)
		if a := rc.Attributes["primary_key"]; a != nil {
			rec.PrimaryKey, _ = d.str(a.Expr, rowner+": primary_key")
			rec.PrimaryKeyRange = a.Expr.Range()
		}
		for _, ib := range rc.Blocks {
			idx := &Index{Field: ib.Labels[0], Range: ib.LabelRanges[0]}
			if first := rec.Index(idx.Field); first != nil {
				d.errorf(ib.LabelRanges[0], "%s has two indexes on %q; the first is on line %d", rowner, idx.Field, first.Range.Start.Line)
				continue
			}
			ic := d.content(ib.Body, indexSchema, fmt.Sprintf("index %q", idx.Field), ib.DefRange)
			if a := ic.Attributes["unique"]; a != nil {
				idx.Unique, _ = d.boolean(a.Expr, fmt.Sprintf("index %q: unique", idx.Field))
			}
			rec.Indexes = append(rec.Indexes, idx)
		}
	}
	if len(db.Records) == 0 && !d.diags.HasErrors() {
		d.errorf(b.DefRange, "%s declares no record types; add one like record \"User\" { primary_key = \"id\" }", owner)
	}
}

// protoFile reads `definition`: a .proto file, relative to the project.
func (d *decoder) protoFile(a *hcl.Attribute, owner string) string {
	p, ok := d.str(a.Expr, owner+": definition")
	if !ok {
		return ""
	}
	rng := a.Expr.Range()
	abs := p
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(d.dir, abs)
	}
	abs = filepath.Clean(abs)
	info, err := os.Stat(abs)
	switch {
	case p == "":
		d.errorf(rng, "%s: definition must name a .proto file, like \"data.proto\"", owner)
	case errors.Is(err, fs.ErrNotExist):
		d.errorf(rng, "%s: definition %q does not exist (looked for %s)", owner, p, abs)
	case err != nil:
		d.errorf(rng, "%s: cannot use definition %q: %v", owner, p, err)
	case info.IsDir() || !strings.HasSuffix(abs, ".proto"):
		d.errorf(rng, "%s: definition %q is not a .proto file", owner, p)
	}
	return abs
}

// decodeStore reads `store = "URL"`, where the project's data lives.
func (d *decoder) decodeStore(a *hcl.Attribute) {
	url, ok := d.str(a.Expr, "store")
	if !ok {
		return
	}
	if _, err := store.ParseURL(url); err != nil {
		d.errorf(a.Expr.Range(), "store %s", err)
		return
	}
	d.project.Store = url
	d.project.StoreRange = a.Expr.Range()
}

func (d *decoder) decodeDependencies(b *hcl.Block) {
	attrs, diags := b.Body.JustAttributes()
	d.diags = append(d.diags, diags...)
	sorted := make([]*hcl.Attribute, 0, len(attrs))
	for _, a := range attrs {
		sorted = append(sorted, a)
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Range.Start.Byte < sorted[j].Range.Start.Byte })
	for _, a := range sorted {
		if first := d.project.dependency(a.Name); first != nil {
			d.errorf(a.NameRange, "dependency %q is declared twice; the first is on line %d", a.Name, first.Range.Start.Line)
			continue
		}
		src, ok := d.str(a.Expr, fmt.Sprintf("dependency %q", a.Name))
		if !ok {
			continue
		}
		d.project.Dependencies = append(d.project.Dependencies, &Dependency{Name: a.Name, Source: src, Range: a.Range})
	}
}

func (d *decoder) decodeGateway(b *hclsyntax.Block, ports map[int]*Gateway) {
	g := &Gateway{Range: b.DefRange()}
	owner := "gateway"
	if len(b.Labels) > 0 {
		g.Name = b.Labels[0]
		owner = fmt.Sprintf("gateway %q", g.Name)
		d.checkName("gateway", g.Name, b.LabelRanges[0])
		if first := d.project.gateway(g.Name); first != nil {
			d.errorf(b.LabelRanges[0], "gateway %q is declared twice; the first is on line %d", g.Name, first.Range.Start.Line)
		}
	}
	if len(b.Labels) > 1 {
		d.errorf(b.LabelRanges[1], "gateway takes at most one label, its name; remove %q", b.Labels[1])
	}
	d.project.Gateways = append(d.project.Gateways, g)
	c := d.content(b.Body, gatewaySchema, owner, g.Range)

	if a := c.Attributes["type"]; a != nil {
		if typ, ok := d.str(a.Expr, owner+": type"); ok {
			switch {
			case typ == "http":
				g.Type = typ
			case slices.Contains(gatewayTypes, typ):
				d.errorf(a.Expr.Range(), "%s: type %q is not supported yet; only \"http\" is", owner, typ)
			default:
				d.errorf(a.Expr.Range(), "%s: unknown type %q; valid types are %s%s",
					owner, typ, quoteList(gatewayTypes), didYouMean(typ, gatewayTypes))
			}
		}
	}
	if a := c.Attributes["port"]; a != nil {
		if port, ok := d.port(a.Expr, owner); ok {
			g.Port = port
			if first := ports[port]; first != nil {
				d.errorf(a.Expr.Range(), "%s: port %d is already used by the gateway on line %d", owner, port, first.Range.Start.Line)
			} else {
				ports[port] = g
			}
		}
	}
	defaultOK := false
	if a := c.Attributes["function"]; a != nil {
		g.Function, defaultOK = d.reference(a, kindFunction, owner)
	}

	prefixes := map[string]*Route{}
	for _, rb := range c.Blocks {
		r := d.decodeRoute(rb)
		if first := prefixes[r.Prefix]; first != nil {
			d.errorf(rb.LabelRanges[0], "%s: route %q is declared twice; the first is on line %d", owner, r.Prefix, first.Range.Start.Line)
			continue
		}
		prefixes[r.Prefix] = r
		g.Routes = append(g.Routes, r)
	}
	// A default that failed to resolve has its own error already.
	if len(c.Blocks) == 0 && !defaultOK && c.Attributes["function"] == nil {
		d.errorf(g.Range, `%s has no routes and no default function; add route "/" { function = "${function.NAME}" }`, owner)
	}
}

func (d *decoder) decodeRoute(b *hcl.Block) *Route {
	r := &Route{Prefix: b.Labels[0], Range: b.DefRange}
	owner := fmt.Sprintf("route %q", r.Prefix)
	c := d.content(b.Body, routeSchema, owner, b.DefRange)
	if !strings.HasPrefix(r.Prefix, "/") {
		d.errorf(b.LabelRanges[0], "route prefix %q must start with \"/\"; write %q", r.Prefix, "/"+r.Prefix)
	}
	fnAttr, filesAttr := c.Attributes["function"], c.Attributes["files"]
	switch {
	case fnAttr != nil && filesAttr != nil:
		d.errorf(b.DefRange, "%s sets both function and files; a route serves exactly one of them", owner)
	case fnAttr == nil && filesAttr == nil:
		d.errorf(b.DefRange, `%s routes to nothing; set function = "${function.NAME}" or files = "${files.NAME}"`, owner)
	}
	if fnAttr != nil {
		r.Function, _ = d.reference(fnAttr, kindFunction, owner)
	}
	if filesAttr != nil {
		r.Files, _ = d.reference(filesAttr, kindFiles, owner)
	}
	if a := c.Attributes["timeout"]; a != nil {
		r.Timeout, _ = d.duration(a.Expr, owner+": timeout", `"30s"`)
	}
	if a := c.Attributes["max_body"]; a != nil {
		r.MaxBody, _ = d.size(a.Expr, owner+": max_body", `"10MiB"`, 1, 1<<40)
	}
	if filesAttr != nil && (c.Attributes["timeout"] != nil || c.Attributes["max_body"] != nil) {
		d.errorf(b.DefRange, "%s serves files; timeout and max_body apply to function routes only", owner)
	}
	return r
}

// checkName reports a block name that a reference could not spell as
// `${kind.NAME}`.
func (d *decoder) checkName(kind, name string, rng hcl.Range) {
	if !hclsyntax.ValidIdentifier(name) {
		d.errorf(rng, "%s name %q is not valid; use letters, digits, underscores and dashes, starting with a letter", kind, name)
	}
}

// str evaluates a literal string attribute. what names it in messages.
func (d *decoder) str(expr hcl.Expression, what string) (string, bool) {
	v, diags := expr.Value(nil)
	if diags.HasErrors() {
		if word, ok := bareWord(expr); ok {
			d.errorf(expr.Range(), "%s must be a string; put it in quotes: %q", what, word)
			return "", false
		}
		d.diags = append(d.diags, diags...)
		return "", false
	}
	if v.IsNull() || !v.IsKnown() || v.Type() != cty.String {
		d.errorf(expr.Range(), "%s must be a string, not %s", what, friendlyType(v))
		return "", false
	}
	return v.AsString(), true
}

// bareWord reports whether expr is a lone unquoted word (runtime = go),
// which HCL reads as a variable; the user almost surely meant a string.
func bareWord(expr hcl.Expression) (string, bool) {
	tr, ok := expr.(*hclsyntax.ScopeTraversalExpr)
	if !ok || len(tr.Traversal) != 1 {
		return "", false
	}
	return tr.Traversal.RootName(), true
}

func friendlyType(v cty.Value) string {
	if v.IsNull() {
		return "null"
	}
	return v.Type().FriendlyName()
}

func (d *decoder) port(expr hcl.Expression, owner string) (int, bool) {
	return d.integer(expr, owner+": port", "like 8080", 1, 65535)
}

// integer reads a whole number in [lo, hi]; example shows a valid value.
func (d *decoder) integer(expr hcl.Expression, what, example string, lo, hi int64) (int, bool) {
	v, diags := expr.Value(nil)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() {
		return 0, false
	}
	if v.IsNull() || !v.IsKnown() || v.Type() != cty.Number {
		d.errorf(expr.Range(), "%s must be a number, %s, not %s", what, example, friendlyType(v))
		return 0, false
	}
	// Messages quote the source rather than format the number: formatting a
	// big.Float with a huge exponent takes minutes.
	f := v.AsBigFloat()
	if !f.IsInt() {
		d.errorf(expr.Range(), "%s must be a whole number, not %s", what, d.source(expr.Range()))
		return 0, false
	}
	if f.Cmp(new(big.Float).SetInt64(lo)) < 0 || f.Cmp(new(big.Float).SetInt64(hi)) > 0 {
		d.errorf(expr.Range(), "%s %s is out of range; use %d to %d", what, d.source(expr.Range()), lo, hi)
		return 0, false
	}
	n, _ := f.Int64()
	return int(n), true
}

// sizeUnits are the suffixes size accepts, longest first so "MiB" is not
// read as "B".
var sizeUnits = []struct {
	suffix string
	bytes  int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9},
	{"kB", 1e3}, {"B", 1},
}

// size reads a byte size in [lo, hi]: a string with a unit ("64MiB",
// "10MB", "512KiB") or a whole number of bytes. example shows a valid value.
func (d *decoder) size(expr hcl.Expression, what, example string, lo, hi int64) (int64, bool) {
	v, diags := expr.Value(nil)
	if !diags.HasErrors() && !v.IsNull() && v.IsKnown() && v.Type() == cty.Number {
		n, ok := d.integer(expr, what, "like "+example, lo, hi)
		return int64(n), ok
	}
	text, ok := d.str(expr, what)
	if !ok {
		return 0, false
	}
	n, err := parseSize(text)
	if err != nil {
		d.errorf(expr.Range(), "%s %q is not a size: %v; write it like %s", what, text, err, example)
		return 0, false
	}
	if n < lo || n > hi {
		d.errorf(expr.Range(), "%s %q is out of range; use %s to %s", what, text, formatSize(lo), formatSize(hi))
		return 0, false
	}
	return n, true
}

// parseSize reads "64MiB", "10 MB" or "4096" (bytes).
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range sizeUnits {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(rest), u.bytes
			break
		}
	}
	if s == "" {
		return 0, errors.New("the number is missing")
	}
	n, ok := new(big.Int).SetString(s, 10)
	if !ok || n.Sign() < 0 {
		return 0, errors.New("use a whole number and a unit (B, KiB, MiB, GiB, KB, MB, GB)")
	}
	n.Mul(n, big.NewInt(mult))
	if !n.IsInt64() {
		return 0, errors.New("it is too large")
	}
	return n.Int64(), nil
}

// formatSize writes n in the largest binary unit that divides it.
func formatSize(n int64) string {
	for _, u := range []struct {
		suffix string
		bytes  int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.bytes && n%u.bytes == 0 {
			return fmt.Sprintf("%d%s", n/u.bytes, u.suffix)
		}
	}
	return fmt.Sprintf("%dB", n)
}

// maxDuration bounds durations in the file: a day is more than any limit
// needs, and it keeps timer arithmetic far from overflow.
const maxDuration = 24 * time.Hour

// duration reads a positive duration string like "2s", "500ms" or "1m30s".
func (d *decoder) duration(expr hcl.Expression, what, example string) (time.Duration, bool) {
	text, ok := d.str(expr, what)
	if !ok {
		return 0, false
	}
	v, err := time.ParseDuration(strings.TrimSpace(text))
	switch {
	case err != nil:
		d.errorf(expr.Range(), "%s %q is not a duration; write it like %s (units: ms, s, m, h)", what, text, example)
		return 0, false
	case v <= 0 || v > maxDuration:
		d.errorf(expr.Range(), "%s %q is out of range; use more than 0s and at most 24h", what, text)
		return 0, false
	}
	return v, true
}

// boolean reads true or false.
func (d *decoder) boolean(expr hcl.Expression, what string) (bool, bool) {
	v, diags := expr.Value(nil)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() {
		return false, false
	}
	if v.IsNull() || !v.IsKnown() || v.Type() != cty.Bool {
		d.errorf(expr.Range(), "%s must be true or false, not %s", what, friendlyType(v))
		return false, false
	}
	return v.True(), true
}

// source returns the text of rng, shortened for a message.
func (d *decoder) source(rng hcl.Range) string {
	src := d.project.src
	if rng.Start.Byte < 0 || rng.End.Byte > len(src) || rng.Start.Byte > rng.End.Byte {
		return "this"
	}
	text := string(src[rng.Start.Byte:rng.End.Byte])
	if utf8.RuneCountInString(text) > 40 {
		text = string([]rune(text)[:40]) + "…"
	}
	return text
}

// maxExponent bounds the binary exponent of number literals, at float64's
// range. Nothing in embly.hcl needs more, and cty turns a number into text
// (in "${...}" templates, in messages) in time that grows faster than its
// exponent: "a${1e99999999}" would take hours.
const maxExponent = 1024

// checkExpressions reports what would make evaluating the file slow: number
// literals beyond maxExponent, and for expressions, whose nesting multiplies
// the work (ten nested loops over ten items is 10^10 steps from a few hundred
// bytes). embly.hcl is static configuration and needs neither; refusing them
// keeps a hostile bundle from stalling a shared server. Parse evaluates
// nothing when this finds a problem.
func (d *decoder) checkExpressions(body *hclsyntax.Body) {
	hclsyntax.VisitAll(body, func(n hclsyntax.Node) hcl.Diagnostics {
		// A %{for} directive in a template is a ForExpr inside, too.
		if e, ok := n.(*hclsyntax.ForExpr); ok {
			d.errorf(e.SrcRange, "for expressions are not supported in %s; write the values out", FileName)
			return nil
		}
		lit, ok := n.(*hclsyntax.LiteralValueExpr)
		if !ok || lit.Val.Type() != cty.Number || !lit.Val.IsKnown() || lit.Val.IsNull() {
			return nil
		}
		f := lit.Val.AsBigFloat()
		if f.IsInf() {
			d.errorf(lit.SrcRange, "number %s is too large", d.source(lit.SrcRange))
			return nil
		}
		if exp := f.MantExp(nil); exp > maxExponent || exp < -maxExponent {
			d.errorf(lit.SrcRange, "number %s is too large or too small for embly.hcl", d.source(lit.SrcRange))
		}
		return nil
	})
}

// pathWant is what a path attribute must name.
type pathWant int

const (
	wantAny pathWant = iota
	wantDir
	wantWasm
)

// path resolves a path attribute against the project directory and checks
// that it names what want says. It returns the absolute path even when the
// check fails, so later messages can show it.
func (d *decoder) path(a *hcl.Attribute, owner string, want pathWant) string {
	p, ok := d.str(a.Expr, owner+": path")
	if !ok {
		return ""
	}
	rng := a.Expr.Range()
	if p == "" {
		d.errorf(rng, "%s: path must not be empty; use \".\" for the project directory", owner)
		return ""
	}
	abs := p
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(d.dir, abs)
	}
	abs = filepath.Clean(abs)
	info, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		d.errorf(rng, "%s: path %q does not exist (looked for %s)", owner, p, abs)
	case err != nil:
		d.errorf(rng, "%s: cannot use path %q: %v", owner, p, err)
	case want == wantDir && !info.IsDir():
		d.errorf(rng, "%s: path %q is not a directory (%s)", owner, p, abs)
	case want == wantWasm && info.IsDir():
		d.errorf(rng, "%s: path %q is a directory; runtime \"wasm\" needs a .wasm file", owner, p)
	case want == wantWasm && !strings.HasSuffix(abs, ".wasm"):
		d.errorf(rng, "%s: path %q is not a .wasm file; runtime \"wasm\" runs a prebuilt module", owner, p)
	}
	return abs
}

// sources reads a list of glob patterns, pointing at the element that is
// wrong when one is.
func (d *decoder) sources(a *hcl.Attribute, owner string) []string {
	elems, diags := hcl.ExprList(a.Expr)
	if diags.HasErrors() {
		d.errorf(a.Expr.Range(), `%s: sources must be a list of glob patterns, like ["**/*.go"]`, owner)
		return nil
	}
	var patterns []string
	for _, e := range elems {
		p, ok := d.str(e, owner+": each of sources")
		if !ok {
			continue
		}
		// Patterns are matched against slash-separated paths relative to
		// the function's path, whatever the OS.
		if _, err := path.Match(p, ""); err != nil {
			d.errorf(e.Range(), "%s: source pattern %q is malformed: %v", owner, p, err)
			continue
		}
		if path.IsAbs(p) || filepath.IsAbs(p) {
			d.errorf(e.Range(), "%s: source pattern %q must be relative to the function's path", owner, p)
			continue
		}
		patterns = append(patterns, p)
	}
	return patterns
}
