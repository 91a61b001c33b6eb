package repo

import (
	"fmt"
	"iter"
	"slices"
	"time"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/bundle/diag"
	"github.com/cedargate/cedargate/internal/parallel"
)

// View is the identity objects of one environment, in file order.
type View struct {
	Env             string
	Config          *Config
	Users           []*User
	ServiceAccounts []*ServiceAccount
	Groups          []*Group
	Teams           []*Team
	Resources       []*Resource
	Profiles        []*AccessProfile
	Entitlements    []*Entitlement
	Exceptions      []*Exception
	// Names are, in a names-only view (see Repo.AheadNamesOnly), the
	// entities of its users, groups, teams and resources, which it keeps
	// no objects of; nil in a full view.
	Names []types.EntityUID
	// namesOnly is set in a names-only view, which keeps no index: nothing
	// resolves references in it.
	namesOnly bool
	byKey     map[string]*Meta
	// byName is the first object of each name; byNameMore the others of
	// that name, in file order (objects of different kinds may share a
	// name, rarely: one index rather than a slice for every name).
	byName     map[string]*Meta
	byNameMore map[string][]*Meta
	// byLive finds the object that names a live object ("field\x00value"
	// for kubernetes, aws_arn and scim_username), so that two objects
	// never claim the same live one.
	byLive map[string]*Meta
}

// View decodes the identity objects for env (which CheckEnv has accepted).
// Problems in objects outside env are reported too, so that a broken prod
// object fails the dev build as well. With DecodeAhead set, the other
// environments are decoded from the same parse and kept for the View
// call that asks for them (see Repo.DecodeAhead).
func (r *Repo) View(env string) (*View, diag.List) {
	today := r.Today()
	r.mu.Lock()
	a, ok := r.ahead[env]
	if ok {
		delete(r.ahead, env)
	}
	r.mu.Unlock()
	if ok && a.today.Equal(today) {
		return a.view, a.diags
	}
	envs := []string{env}
	if r.DecodeAhead {
		for _, e := range r.Config.Environments {
			if e != env {
				envs = append(envs, e)
			}
		}
	}
	r.mu.Lock()
	dropped := r.dropped
	r.dropped = r.dropped || (r.DropSources && len(envs) == max(len(r.Config.Environments), 1))
	drop := r.dropped
	r.mu.Unlock()
	if dropped {
		// A cedargate bug: the caller set DropSources, then asked again.
		return &View{Env: env, Config: r.Config}, diag.ListOf(fmt.Errorf("environment %q: the identity files were let go after they were decoded", env))
	}
	views, diags := r.views(envs, today, drop)
	if len(envs) > 1 {
		r.mu.Lock()
		if r.ahead == nil {
			r.ahead = map[string]aheadView{}
		}
		for i, e := range envs[1:] {
			r.ahead[e] = aheadView{view: views[i+1], diags: diags[i+1], today: today}
		}
		r.mu.Unlock()
	}
	return views[0], diags[0]
}

// aheadView is a view decoded ahead of the call that asks for it.
type aheadView struct {
	view  *View
	diags diag.List
	today time.Time
}

// views decodes the identity objects of each of envs from one parse of
// the files. Files are parsed and decoded one per core at a time, each
// into its own slot; the objects are then added in file order, so that
// which of two duplicates comes first does not depend on the scheduler.
// With drop set, each file's bytes go once it is decoded.
func (r *Repo) views(envs []string, today time.Time, drop bool) ([]*View, []diag.List) {
	type decoded struct {
		objs  []any
		diags diag.List
	}
	// files[i][e] is what file i holds for envs[e].
	files := make([][]decoded, len(r.identities))
	parallel.For(len(r.identities), func(i int) {
		f := &r.identities[i]
		if f.spans == nil {
			return
		}
		out := make([]decoded, len(envs))
		files[i] = out
		docs, err := f.parse(r.Config.Limits.YAMLDepth)
		if drop {
			f.data, f.spans = nil, nil
		}
		if err != nil {
			// Load parsed the file unless told to leave it to this view
			// (LoadOptions.ParseLater): the error is then news to
			// Problems too.
			for e := range out {
				out[e].diags.Append(diag.ListOf(err))
			}
			// Once: a later view skips the file, as it would had Load
			// found the error.
			f.data, f.spans = nil, nil
			r.mu.Lock()
			r.Problems.Append(diag.ListOf(err))
			r.mu.Unlock()
			return
		}
		for e, env := range envs {
			d := &decoder{env: env, diags: &out[e].diags, lim: r.Config.Limits, relative: r.Config.RelativeDates, today: today}
			namesOnly := e > 0 && r.AheadNamesOnly
			for _, doc := range docs {
				obj := d.decodeObject(doc, r.Config.Environments)
				if namesOnly {
					obj = nameOf(obj)
				}
				if obj != nil {
					out[e].objs = append(out[e].objs, obj)
				}
			}
			if namesOnly {
				out[e].diags = nil
			}
		}
	})
	views := make([]*View, len(envs))
	diags := make([]diag.List, len(envs))
	for e, env := range envs {
		v := &View{Env: env, Config: r.Config, byKey: map[string]*Meta{}, byName: map[string]*Meta{}, byNameMore: map[string][]*Meta{}, byLive: map[string]*Meta{}}
		v.namesOnly = e > 0 && r.AheadNamesOnly
		qualified := map[string]types.EntityType{}
		for i := range files {
			if files[i] == nil {
				continue
			}
			diags[e].Append(files[i][e].diags)
			for _, obj := range files[i][e].objs {
				if n, ok := obj.(nameOnly); ok {
					t, ok := qualified[n.typ]
					if !ok {
						t = types.EntityType(r.Config.Qualify(n.typ))
						qualified[n.typ] = t
					}
					v.Names = append(v.Names, types.NewEntityUID(t, types.String(n.name)))
					continue
				}
				v.add(obj, &diags[e])
			}
			files[i][e] = decoded{}
		}
		if v.namesOnly {
			v.byKey, v.byName, v.byNameMore, v.byLive = nil, nil, nil, nil
		}
		views[e] = v
	}
	return views, diags
}

// nameOnly is what a names-only view keeps of an object known by its name
// alone: its Cedar type, as written (a kind, or a resource's type), and
// its name.
type nameOnly struct{ typ, name string }

// nameOf is what a names-only view keeps of obj (see
// Repo.AheadNamesOnly), or nil when it keeps nothing of it.
func nameOf(obj any) any {
	switch o := obj.(type) {
	case *User, *Group, *Team:
		m := obj.(interface{ meta() *Meta }).meta()
		return nameOnly{typ: string(m.Kind), name: m.Name}
	case *ServiceAccount:
		m := Meta{Kind: o.Kind, Name: o.Name, Pos: o.Pos}
		if id, ok := fieldNames.lookup("spiffe_id"); ok {
			for _, f := range o.fields {
				if f.name == id {
					m.fields = append(m.fields, f)
				}
			}
		}
		return &ServiceAccount{Meta: m, SPIFFEIDs: o.SPIFFEIDs}
	case *Resource:
		return nameOnly{typ: o.Type, name: o.Name}
	}
	return nil
}

func (v *View) add(obj any, diags *diag.List) {
	var m *Meta
	key := ""
	switch o := obj.(type) {
	case *Entitlement:
		v.Entitlements = append(v.Entitlements, o)
		return
	case *Exception:
		v.Exceptions = append(v.Exceptions, o)
		return
	case *Resource:
		o.Type = v.Config.Qualify(o.Type)
		m, key = &o.Meta, o.Type+"/"+o.Name
	case *User:
		m = &o.Meta
	case *ServiceAccount:
		m = &o.Meta
	case *Group:
		m = &o.Meta
	case *Team:
		m = &o.Meta
	case *AccessProfile:
		m = &o.Meta
	}
	if key == "" {
		key = m.Key()
	}
	if prev, dup := v.byKey[key]; dup {
		diags.Add(diag.Diagnostic{Pos: m.Pos, Subject: m.Label(), Message: fmt.Sprintf("defined twice in environment %q (first at %s)", v.Env, prev.Pos)})
		return
	}
	v.byKey[key] = m
	if !v.namesOnly {
		if _, seen := v.byName[m.Name]; seen {
			v.byNameMore[m.Name] = append(v.byNameMore[m.Name], m)
		} else {
			v.byName[m.Name] = m
		}
		v.claimLive(obj, m, diags)
	}
	switch o := obj.(type) {
	case *User:
		v.Users = append(v.Users, o)
	case *ServiceAccount:
		v.ServiceAccounts = append(v.ServiceAccounts, o)
	case *Group:
		v.Groups = append(v.Groups, o)
	case *Team:
		v.Teams = append(v.Teams, o)
	case *Resource:
		v.Resources = append(v.Resources, o)
	case *AccessProfile:
		v.Profiles = append(v.Profiles, o)
	}
}

// claimLive reports a live object (a Kubernetes ServiceAccount, an ARN, a
// SCIM userName) that an earlier object already names: drift could match
// it to only one of them.
func (v *View) claimLive(obj any, m *Meta, diags *diag.List) {
	claim := func(field, value string, pos diag.Position) {
		k := field + "\x00" + value
		if prev, dup := v.byLive[k]; dup {
			diags.Add(diag.Diagnostic{Pos: pos, Subject: m.Label(), Message: fmt.Sprintf("%s %q is already that of %s (at %s); a live object is one identity", field, value, prev.Label(), prev.FieldPos(field))})
			return
		}
		v.byLive[k] = m
	}
	switch o := obj.(type) {
	case *User:
		if o.SCIMUserName != "" {
			claim("scim_username", o.SCIMUserName, o.FieldPos("scim_username"))
		}
	case *Group:
		if o.SCIMDisplayName != "" {
			claim("scim_displayname", o.SCIMDisplayName, o.FieldPos("scim_displayname"))
		}
	case *ServiceAccount:
		for _, t := range o.Kubernetes {
			claim("kubernetes", t.Text, t.Pos)
		}
		if o.AWSARN != "" {
			claim("aws_arn", o.AWSARN, o.FieldPos("aws_arn"))
		}
	}
}

// lookup returns the object of kind k named name, or nil.
func (v *View) lookup(k Kind, name string) *Meta {
	return v.byKey[string(k)+"/"+name]
}

// Resolve finds the object a reference names among kinds. A bare name must
// match exactly one object of those kinds; Kind/name must name one of them.
func (v *View) Resolve(ref Ref, kinds ...Kind) (*Meta, error) {
	if ref.Literal {
		// A Cedar UID names an identity object when its type is a kind's
		// type in the repository namespace.
		for _, k := range kinds {
			if ref.Type == v.Config.Qualify(string(k)) {
				if m := v.lookup(k, ref.Name); m != nil {
					return m, nil
				}
				return nil, fmt.Errorf("no %s named %q in environment %q%s", k, ref.Name, v.Env, v.hint(ref.Name, kinds))
			}
		}
		return nil, fmt.Errorf("%s is not a %s", ref, kindsList(kinds))
	}
	if ref.Type != "" {
		k := Kind(ref.Type)
		if !slices.Contains(kinds, k) {
			return nil, fmt.Errorf("%s is a %s, but only %s fit here", ref, k, kindsList(kinds))
		}
		if m := v.lookup(k, ref.Name); m != nil {
			return m, nil
		}
		return nil, fmt.Errorf("no %s named %q in environment %q%s", k, ref.Name, v.Env, v.hint(ref.Name, kinds))
	}
	var found []*Meta
	for m := range v.named(ref.Name) {
		if slices.Contains(kinds, m.Kind) {
			found = append(found, m)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return nil, fmt.Errorf("no %s named %q in environment %q%s", kindsList(kinds), ref.Name, v.Env, v.hint(ref.Name, kinds))
	}
	return nil, fmt.Errorf("%q is ambiguous: both %s and %s exist; write Kind/name", ref.Name, found[0].Key(), found[1].Key())
}

// named yields the objects named name, in file order.
func (v *View) named(name string) iter.Seq[*Meta] {
	return func(yield func(*Meta) bool) {
		first := v.byName[name]
		if first == nil || !yield(first) {
			return
		}
		for _, m := range v.byNameMore[name] {
			if !yield(m) {
				return
			}
		}
	}
}

func (v *View) hint(name string, kinds []Kind) string {
	var names []string
	for n := range v.byName {
		for m := range v.named(n) {
			if slices.Contains(kinds, m.Kind) {
				names = append(names, n)
				break
			}
		}
	}
	slices.Sort(names)
	if s := Suggest(name, names); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return ""
}

func kindsList(kinds []Kind) string {
	s := ""
	for i, k := range kinds {
		switch {
		case i == 0:
		case i == len(kinds)-1:
			s += " or "
		default:
			s += ", "
		}
		s += string(k)
	}
	return s
}
