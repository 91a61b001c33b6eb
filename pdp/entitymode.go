package pdp

import (
	"strconv"

	"github.com/cedargate/cedargate/pdp/engine"
	"github.com/cedargate/cedargate/pdp/wire"
	pb "github.com/cedargate/cedargate/proto/cedargate/v1"
)

// This file applies the deployment's request-entity mode
// (Options.RequestEntities) to every request, from every front end: a
// request entity may not rewrite the bundle's identities unless the
// deployment says so.

// shadowing refuses req, decided against snap, when one of its entities
// shadows a bundle entity in a way mode does not allow (see
// engine.EntityMode); the error's field is relative to the request, e.g.
// `entities[3]`. Built only for a refused request: a request without
// entities costs nothing.
func shadowing(snap *engine.Snapshot, req *engine.Request, mode engine.EntityMode) *wire.FieldError {
	if len(req.Entities) == 0 {
		return nil
	}
	sh, refused := snap.Shadowing(req.Entities, mode)
	if !refused {
		return nil
	}
	field := "entities[" + strconv.Itoa(sh.Index) + "]"
	if mode == engine.MergeAttributes {
		return &wire.FieldError{Field: field + ".parents", Reason: wire.QuoteUID(sh.Parent) + " is not a parent of " +
			wire.QuoteUID(sh.UID) + " in the bundle: a request entity may add attributes and tags to one the bundle " +
			"defines, not parents (request entities: merge-attributes)"}
	}
	defined := " is defined by the bundle"
	if sh.Undefined {
		defined = " is a parent of bundle entities"
	}
	return &wire.FieldError{Field: field, Reason: wire.QuoteUID(sh.UID) + defined +
		": a request entity may not replace or change what the bundle defines (request entities: refuse-shadowing)"}
}

// entityModeProto is mode as GetStatus reports it.
func entityModeProto(mode engine.EntityMode) pb.RequestEntitiesMode {
	switch mode {
	case engine.MergeAttributes:
		return pb.RequestEntitiesMode_REQUEST_ENTITIES_MODE_MERGE_ATTRIBUTES
	case engine.Replace:
		return pb.RequestEntitiesMode_REQUEST_ENTITIES_MODE_REPLACE
	}
	return pb.RequestEntitiesMode_REQUEST_ENTITIES_MODE_REFUSE_SHADOWING
}
