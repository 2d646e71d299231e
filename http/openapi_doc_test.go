package http_test

import (
	"context"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	api "github.com/weirflow/weir/http"
)

// loadOpenAPI parses the served document and checks it is valid OpenAPI 3.
func loadOpenAPI(t testing.TB) *openapi3.T {
	t.Helper()
	raw, err := api.OpenAPIJSON()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatalf("load openapi: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi document is invalid: %v", err)
	}
	return doc
}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	doc := loadOpenAPI(t)
	// Every family's root must be documented; a missing prefix means a
	// whole family drifted out of the document.
	for _, prefix := range []string{"/ping", "/streams", "/v3/", "/v1/", "/weir/v1/", "/openapi.json"} {
		found := false
		for path := range doc.Paths.Map() {
			if strings.HasPrefix(path, prefix) {
				found = true
			}
		}
		if !found {
			t.Errorf("no documented path starts with %s", prefix)
		}
	}
	ids := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.OperationID == "" {
				t.Errorf("%s %s has no operationId", method, path)
			}
			if ids[op.OperationID] {
				t.Errorf("duplicate operationId %s", op.OperationID)
			}
			ids[op.OperationID] = true
		}
	}
}
