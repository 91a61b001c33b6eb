package compile

import (
	"fmt"
	"slices"

	"github.com/cedar-policy/cedar-go/types"
	"github.com/cedar-policy/cedar-go/x/exp/schema"
	schemaast "github.com/cedar-policy/cedar-go/x/exp/schema/ast"

	"github.com/cedargate/cedargate/bundle/diag"
	"github.com/cedargate/cedargate/bundle/repo"
)

// generatedTypes are the entity types cedargate adds to the schema for the
// identity kinds, with the parent types membership needs. A repository
// schema may declare these types itself (to give them attributes);
// cedargate then adds only the missing parent types and attributes.
//
// Grants make principals members of their profile's AccessProfile entity,
// and an expired ServiceAccount a member of Expired::"ServiceAccount"
// (see grants.go), so those are parent types too.
var generatedTypes = []struct {
	kind    repo.Kind
	parents []repo.Kind
	attrs   schemaast.RecordType
}{
	{repo.KindAccessProfile, nil, nil},
	{expiredType, nil, nil},
	{repo.KindTeam, []repo.Kind{repo.KindAccessProfile}, nil},
	{repo.KindGroup, []repo.Kind{repo.KindGroup, repo.KindAccessProfile}, nil},
	{repo.KindUser, []repo.Kind{repo.KindGroup, repo.KindTeam, repo.KindAccessProfile}, nil},
	{repo.KindServiceAccount, []repo.Kind{repo.KindGroup, repo.KindTeam, repo.KindAccessProfile, expiredType},
		schemaast.RecordType{"spiffe_id": {Type: schemaast.String(), Optional: true}}},
}

// buildSchema parses the repository schema and, for repositories with
// identity objects, merges in the generated identity types.
func (c *compiler) buildSchema() {
	var s schema.Schema
	if c.repo.Schema != nil {
		s.SetFilename(c.repo.Schema.Path)
		if err := s.UnmarshalCedar(c.repo.Schema.Data); err != nil {
			c.diags.Add(cedarError(c.repo.Schema.Path, "", diag.Position{Line: 1, Col: 1}, err))
			return
		}
	} else if !c.repo.HasIdentities() {
		return
	}
	ast := s.AST()
	if ast == nil {
		ast = &schemaast.Schema{}
	}
	if c.repo.HasIdentities() {
		if err := mergeGenerated(ast, c.cfg.Namespace); err != nil {
			c.diags.Errorf(c.schemaPos(), "%v", err)
			return
		}
	}
	merged := schema.NewSchemaFromAST(ast)
	resolved, err := merged.Resolve()
	if err != nil {
		c.diags.Errorf(c.schemaPos(), "invalid schema: %v", err)
		return
	}
	text, err := merged.MarshalCedar()
	if err != nil {
		c.diags.Errorf(c.schemaPos(), "rendering schema: %v", err)
		return
	}
	c.out.Schema = resolved
	c.out.SchemaText = text
}

// MergedSchema returns the schema a repository with identity objects, in
// namespace, gets from its schema text: cedargate's entity types merged in,
// in Cedar's human-readable syntax, as the bundle holds it.
func MergedSchema(text []byte, namespace string) ([]byte, error) {
	var s schema.Schema
	if err := s.UnmarshalCedar(text); err != nil {
		return nil, err
	}
	ast := s.AST()
	if ast == nil {
		ast = &schemaast.Schema{}
	}
	if err := mergeGenerated(ast, namespace); err != nil {
		return nil, err
	}
	return schema.NewSchemaFromAST(ast).MarshalCedar()
}

func (c *compiler) schemaPos() diag.Position {
	if c.repo.Schema != nil {
		return diag.Position{File: c.repo.Schema.Path}
	}
	return diag.Position{File: repo.ConfigFile}
}

func mergeGenerated(s *schemaast.Schema, namespace string) error {
	entities := &s.Entities
	if namespace != "" {
		if s.Namespaces == nil {
			s.Namespaces = schemaast.Namespaces{}
		}
		ns := s.Namespaces[types.Path(namespace)]
		entities = &ns.Entities
		defer func() { s.Namespaces[types.Path(namespace)] = ns }()
	}
	if *entities == nil {
		*entities = schemaast.Entities{}
	}
	for _, g := range generatedTypes {
		name := schemaast.Ident(g.kind)
		e := (*entities)[name]
		for _, p := range g.parents {
			ref := schemaast.EntityTypeRef(p)
			if !slices.Contains(e.ParentTypes, ref) {
				e.ParentTypes = append(e.ParentTypes, ref)
			}
		}
		for attr, def := range g.attrs {
			if e.Shape == nil {
				e.Shape = schemaast.RecordType{}
			}
			if have, ok := e.Shape[attr]; ok {
				if !isString(have.Type) {
					return fmt.Errorf("the schema declares %s.%s with type %s; cedargate sets it and needs String", g.kind, attr, typeName(have.Type))
				}
				continue
			}
			e.Shape[attr] = def
		}
		(*entities)[name] = e
	}
	return nil
}

// isString reports whether a schema type is String, written directly or as
// a reference to the built-in type.
func isString(t schemaast.IsType) bool {
	switch tt := t.(type) {
	case schemaast.StringType:
		return true
	case schemaast.TypeRef:
		return tt == "String" || tt == "__cedar::String"
	}
	return false
}

func typeName(t schemaast.IsType) string {
	switch tt := t.(type) {
	case schemaast.TypeRef:
		return string(tt)
	case schemaast.EntityTypeRef:
		return string(tt)
	case schemaast.ExtensionType:
		return string(tt)
	}
	return fmt.Sprintf("%T", t)
}
