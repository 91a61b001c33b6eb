// Package idschema generates the JSON Schema of identity files (the YAML
// documents under identities/) from the Go types that bundle/repo decodes
// them into: their yaml tags name the fields, `schema:"required"` marks
// the fields the decoder requires, and their doc comments become the
// descriptions editors show. The generated schema is committed as
// docs/identity.schema.json (go generate rewrites it; a test fails while
// it is stale), so that yaml-language-server can complete and check
// identity files; docs/identity-format.md says how to use it.
//
// The schema describes one YAML document; a multi-document file is checked
// document by document. Optional fields may be written with no value
// (`expires:`), which the decoder reads as absent; so every value may be
// null, which lets a required field without a value through (the decoder
// reports it). It is as permissive as the decoder where the
// decoder is (any scalar where a string is read, a single value where a
// list is), so that it never flags a file cedargate accepts; rules the
// decoder checks across fields (an Exception is a grant or a waiver) and
// guardrails are left to `cedargate lint`.
package idschema

//go:generate go run gen.go

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/cedargate/cedargate/bundle/repo"
)

// ID is the schema's $id: where the committed file is published.
const ID = "https://raw.githubusercontent.com/cedargate/cedargate/main/docs/identity.schema.json"

// kinds maps each kind to the type its documents decode into.
var kinds = map[repo.Kind]any{
	repo.KindUser:           repo.User{},
	repo.KindServiceAccount: repo.ServiceAccount{},
	repo.KindGroup:          repo.Group{},
	repo.KindTeam:           repo.Team{},
	repo.KindResource:       repo.Resource{},
	repo.KindAccessProfile:  repo.AccessProfile{},
	repo.KindEntitlement:    repo.Entitlement{},
	repo.KindException:      repo.Exception{},
}

// unnamed are the kinds whose name is optional (the decoder derives one
// from the subject and profile); every other kind requires it.
var unnamed = map[repo.Kind]bool{repo.KindEntitlement: true, repo.KindException: true}

type schema = map[string]any

// Generate returns the schema, indented, with a final newline. srcDir is
// the directory of package bundle/repo's source, whose doc comments give
// the descriptions.
func Generate(srcDir string) ([]byte, error) {
	docs, err := readDocs(srcDir)
	if err != nil {
		return nil, err
	}
	g := &generator{docs: docs, defs: schema{}}
	g.defs["scalar"] = schema{
		"description": "A single value. cedargate reads it as text, so numbers and booleans are accepted as written; ${env} expands to the environment being built.",
		"type":        []string{"string", "number", "boolean", "null"},
	}
	g.defs["list"] = schema{
		"description": "A list of values; a single value is a list of one.",
		"anyOf":       []any{ref("scalar"), schema{"type": "array", "items": ref("scalar")}},
	}
	g.defs["time"] = schema{
		"description": "A date (2026-12-01, midnight UTC), an RFC 3339 time (2026-12-01T09:00:00Z), or where cedargate.yaml sets relative_dates a date relative to the day of the command (today, today+90d, today-22d).",
		"type":        []string{"string", "null"},
		"pattern":     `^([0-9]{4}-[0-9]{2}-[0-9]{2}([Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2}))?|today([+-]([0-9]+[wdhms])+)?)$`,
	}
	g.defs["duration"] = schema{
		"description": "A duration in weeks, days, hours, minutes and seconds: 90d, 2w, 36h, 1w3d.",
		"type":        []string{"string", "null"},
		"pattern":     `^([0-9]+[wdhms])+$`,
	}
	g.defs["attributes"] = schema{
		"description": "Cedar attributes by name. Values are converted by the Cedar schema: strings, numbers, booleans, lists, records, entity references (Type/name) and extension values written as strings.",
		"type":        []string{"object", "null"},
	}
	var cases []any
	names := make([]string, 0, len(kinds))
	for _, k := range repo.Kinds() {
		name := string(k)
		names = append(names, name)
		s := g.object(reflect.TypeOf(kinds[k]))
		props := s["properties"].(schema)
		props["kind"] = schema{"const": name, "description": props["kind"].(schema)["description"]}
		if !unnamed[k] {
			s["required"] = append([]string{"name"}, s["required"].([]string)...)
		}
		if _, ok := props["attributes"]; ok {
			// overrides is read with attributes: per environment, it
			// replaces attributes key by key. It has no field of its own.
			props["overrides"] = schema{
				"description":          "Per environment (a name declared in cedargate.yaml), attributes that replace the object's own, key by key, in that environment.",
				"type":                 "object",
				"additionalProperties": schema{"type": "object", "properties": schema{"attributes": ref("attributes")}, "additionalProperties": false},
			}
		}
		g.defs[name] = s
		cases = append(cases, schema{
			"if":   schema{"properties": schema{"kind": schema{"const": name}}, "required": []string{"kind"}},
			"then": ref(name),
		})
	}
	root := schema{
		"$schema":     "https://json-schema.org/draft/2020-12/schema",
		"$id":         ID,
		"title":       "cedargate identity object",
		"description": "One YAML document of an identity file under identities/. Generated from bundle/repo by go generate ./bundle/repo/idschema; do not edit.",
		"type":        "object",
		"required":    []string{"kind"},
		"properties":  schema{"kind": schema{"description": "The object's kind.", "enum": names}},
		"allOf":       cases,
		"$defs":       g.defs,
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(root); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func ref(def string) schema { return schema{"$ref": "#/$defs/" + def} }

type generator struct {
	// docs are the doc comments of bundle/repo's types ("User") and
	// their fields ("User.Groups").
	docs map[string]string
	defs schema
}

var (
	tokenType    = reflect.TypeOf(repo.Token{})
	attrsType    = reflect.TypeOf(repo.Attrs{})
	timeType     = reflect.TypeOf(time.Time{})
	durationType = reflect.TypeOf(time.Duration(0))
)

// object is the schema of struct type t, its embedded structs' fields
// inlined as the decoder reads them.
func (g *generator) object(t reflect.Type) schema {
	props := schema{}
	required := []string{}
	g.fields(t, props, &required)
	s := schema{"type": []string{"object", "null"}, "properties": props, "required": required, "additionalProperties": false}
	if d := g.docs[t.Name()]; d != "" {
		s["description"] = d
	}
	return s
}

func (g *generator) fields(t reflect.Type, props schema, required *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			g.fields(f.Type, props, required)
			continue
		}
		name := f.Tag.Get("yaml")
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		p := g.value(f.Type)
		if d := g.docs[t.Name()+"."+f.Name]; d != "" {
			p = withDescription(p, d)
		}
		props[name] = p
		if f.Tag.Get("schema") == "required" {
			*required = append(*required, name)
		}
	}
}

// withDescription adds a description to s; a $ref gets it beside it, which
// draft 2020-12 allows.
func withDescription(s schema, d string) schema {
	out := schema{"description": d}
	for k, v := range s {
		out[k] = v
	}
	return out
}

// value is the schema of a field of type t.
func (g *generator) value(t reflect.Type) schema {
	switch {
	case t == tokenType:
		return ref("scalar")
	case t == attrsType:
		return ref("attributes")
	case t == timeType:
		return ref("time")
	case t == durationType:
		return ref("duration")
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.value(t.Elem())
	case reflect.String:
		return ref("scalar")
	case reflect.Slice:
		if e := t.Elem(); e == tokenType || e.Kind() == reflect.String {
			return ref("list")
		}
		return schema{"type": []string{"array", "null"}, "items": g.value(t.Elem())}
	case reflect.Struct:
		if _, ok := g.defs[t.Name()]; !ok {
			g.defs[t.Name()] = g.object(t)
		}
		return ref(t.Name())
	}
	panic(fmt.Sprintf("idschema: no schema for %s", t))
}

// readDocs reads the doc comments of the types in srcDir and of their
// fields, as single paragraphs.
func readDocs(srcDir string) (map[string]string, error) {
	files, err := filepath.Glob(filepath.Join(srcDir, "*.go"))
	if err != nil {
		return nil, err
	}
	docs := map[string]string{}
	fset := token.NewFileSet()
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, spec := range gd.Specs {
				ts := spec.(*ast.TypeSpec)
				doc := ts.Doc
				if doc == nil && len(gd.Specs) == 1 {
					doc = gd.Doc
				}
				docs[ts.Name.Name] = paragraph(doc, "")
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					continue
				}
				for _, fl := range st.Fields.List {
					for _, n := range fl.Names {
						docs[ts.Name.Name+"."+n.Name] = paragraph(fl.Doc, n.Name)
					}
				}
			}
		}
	}
	return docs, nil
}

// paragraph is a comment's first paragraph on one line. A field's
// comment that opens the Go way, "Groups are the groups …", loses its Go
// name for people reading YAML: "The groups …".
func paragraph(c *ast.CommentGroup, field string) string {
	text := c.Text()
	if i := strings.Index(text, "\n\n"); i >= 0 {
		text = text[:i]
	}
	words := strings.Fields(text)
	if field != "" && len(words) > 2 && words[0] == field && (words[1] == "is" || words[1] == "are") {
		words = words[2:]
		r := []rune(words[0])
		words[0] = strings.ToUpper(string(r[0])) + string(r[1:])
	}
	return strings.Join(words, " ")
}
