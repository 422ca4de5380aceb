package reports

import (
	_ "embed"
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// ConformanceSchema is the JSON Schema of ConformanceReport
// (schema/conformance-report.schema.json), the documented format vendors
// validate their reports against.
//
//go:embed schema/conformance-report.schema.json
var ConformanceSchema []byte

// ValidateConformance checks a report (JSON, or YAML converted to JSON)
// against ConformanceSchema.
func ValidateConformance(doc []byte) error {
	schemaDoc, err := jsonschema.UnmarshalJSON(strings.NewReader(string(ConformanceSchema)))
	if err != nil {
		return fmt.Errorf("conformance schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("conformance-report.schema.json", schemaDoc); err != nil {
		return fmt.Errorf("conformance schema: %w", err)
	}
	sch, err := c.Compile("conformance-report.schema.json")
	if err != nil {
		return fmt.Errorf("conformance schema: %w", err)
	}
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(string(doc)))
	if err != nil {
		return fmt.Errorf("conformance report: %w", err)
	}
	if err := sch.Validate(inst); err != nil {
		return fmt.Errorf("conformance report does not match its schema: %w", err)
	}
	return nil
}
