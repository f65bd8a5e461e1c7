package config

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// evalContext makes `function.NAME` and `files.NAME` resolvable. Each value
// is an object {kind, name} rather than a string so that a reference cannot
// be mistaken for a plain string and is not quietly accepted inside a longer
// template ("x-${function.hello}" fails, as it should).
func (d *decoder) evalContext() *hcl.EvalContext {
	fns := map[string]cty.Value{}
	for _, f := range d.project.Functions {
		fns[f.Name] = refValue(kindFunction, f.Name)
	}
	files := map[string]cty.Value{}
	for _, f := range d.project.Files {
		files[f.Name] = refValue(kindFiles, f.Name)
	}
	return &hcl.EvalContext{Variables: map[string]cty.Value{
		kindFunction: cty.ObjectVal(fns),
		kindFiles:    cty.ObjectVal(files),
	}}
}

func refValue(kind, name string) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{"kind": cty.StringVal(kind), "name": cty.StringVal(name)})
}

// refOf is the inverse of refValue.
func refOf(v cty.Value) (kind, name string, ok bool) {
	if !v.IsWhollyKnown() || v.IsNull() || !v.Type().IsObjectType() {
		return "", "", false
	}
	ty := v.Type()
	if !ty.HasAttribute("kind") || !ty.HasAttribute("name") ||
		!ty.AttributeType("kind").Equals(cty.String) || !ty.AttributeType("name").Equals(cty.String) {
		return "", "", false
	}
	k, n := v.GetAttr("kind"), v.GetAttr("name")
	if k.IsNull() || n.IsNull() {
		return "", "", false
	}
	return k.AsString(), n.AsString(), true
}

// reference evaluates attribute a, which must be `${KIND.NAME}`, and returns NAME.
func (d *decoder) reference(a *hcl.Attribute, kind, owner string) (string, bool) {
	v, diags := a.Expr.Value(d.ctx)
	if diags.HasErrors() {
		d.diags = append(d.diags, d.explainReference(a.Expr, kind, diags)...)
		return "", false
	}
	rng := a.Expr.Range()
	k, name, ok := refOf(v)
	switch {
	case !ok && v.IsKnown() && !v.IsNull() && v.Type() == cty.String:
		s := v.AsString()
		example := "NAME"
		if d.known(kind, s) {
			example = s
		}
		d.errorf(rng, "%s: %s must be a reference like \"${%s.%s}\", not the string %q",
			owner, a.Name, kind, example, s)
	case !ok:
		d.errorf(rng, "%s: %s must be a reference like \"${%s.NAME}\", not %s", owner, a.Name, kind, friendlyType(v))
	case k != kind:
		d.errorf(rng, "%s: %s must refer to a %s block, but this refers to %s %q; write %s = \"${%s.%s}\" instead",
			owner, a.Name, kind, k, name, k, k, name)
	default:
		return name, true
	}
	return "", false
}

func (d *decoder) known(kind, name string) bool {
	if kind == kindFunction {
		return d.project.Function(name) != nil
	}
	return d.project.FilesByName(name) != nil
}

func (d *decoder) names(kind string) []string {
	var names []string
	if kind == kindFunction {
		for _, f := range d.project.Functions {
			names = append(names, f.Name)
		}
	} else {
		for _, f := range d.project.Files {
			names = append(names, f.Name)
		}
	}
	return names
}

// explainReference rewords HCL's "Unsupported attribute: This object does not
// have an attribute named "helo"" for a reference to a function or files
// block that does not exist, keeping HCL's diagnostic and range but saying
// what is missing and what was probably meant.
func (d *decoder) explainReference(expr hcl.Expression, kind string, diags hcl.Diagnostics) hcl.Diagnostics {
	for _, diag := range diags {
		// "x-${function.hello}": the reference's object cannot become text.
		if diag.Summary == "Invalid template interpolation value" {
			diag.Summary = fmt.Sprintf("a reference must stand alone in its string, like \"${%s.NAME}\", with nothing around it", kind)
			diag.Detail = ""
		}
	}
	for _, tr := range expr.Variables() {
		kind := tr.RootName()
		if (kind != kindFunction && kind != kindFiles) || len(tr) < 2 {
			continue
		}
		step, ok := tr[1].(hcl.TraverseAttr)
		if !ok || d.known(kind, step.Name) {
			continue
		}
		what := "function"
		if kind == kindFiles {
			what = "files block"
		}
		msg := fmt.Sprintf("no %s named %q in %s", what, step.Name, FileName)
		if hint := didYouMean(step.Name, d.names(kind)); hint != "" {
			msg += hint
		} else if names := d.names(kind); len(names) > 0 {
			msg += "; declared are " + quoteList(names)
		} else {
			msg += fmt.Sprintf("; declare it with %s %q { ... }", kind, step.Name)
		}
		for _, diag := range diags {
			if diag.Subject != nil && *diag.Subject == step.SrcRange {
				diag.Summary, diag.Detail = msg, ""
				diag.Subject = d.withoutDot(step.SrcRange).Ptr()
			}
		}
	}
	return diags
}

// withoutDot narrows the range of an attribute step (".helo") to the name,
// so the carets sit under the misspelt word alone.
func (d *decoder) withoutDot(rng hcl.Range) hcl.Range {
	src := d.project.src
	if rng.Start.Byte < 0 || rng.Start.Byte >= len(src) || rng.End.Byte-rng.Start.Byte < 2 || src[rng.Start.Byte] != '.' {
		return rng
	}
	rng.Start.Byte++
	rng.Start.Column++
	return rng
}
