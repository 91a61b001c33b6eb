//go:build ignore

// gen writes docs/identity.schema.json from bundle/repo's types; go
// generate runs it in this directory.
package main

import (
	"log"
	"os"

	"github.com/cedargate/cedargate/bundle/repo/idschema"
)

func main() {
	out, err := idschema.Generate("..")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile("../../../docs/identity.schema.json", out, 0o644); err != nil {
		log.Fatal(err)
	}
}
