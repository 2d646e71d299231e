package http_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	api "github.com/weirflow/weir/http"
)

// loadOpenAPI parses the served document and checks it is valid OpenAPI 3.
func loadOpenAPI(t testing.TB) *openapi3.T {
	t.Helper()
	doc, err := parseOpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// parseOpenAPI loads the embedded document and validates it.
func parseOpenAPI() (*openapi3.T, error) {
	raw, err := api.OpenAPIJSON()
	if err != nil {
		return nil, err
	}
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		return nil, fmt.Errorf("load openapi: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("openapi document is invalid: %w", err)
	}
	return doc, nil
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
