package rules

import _ "embed"

// Example is rules/example.yaml, embedded so the demo runs from the binary alone.
//
//go:embed example.yaml
var Example []byte
