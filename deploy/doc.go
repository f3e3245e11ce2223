// Package deploy holds the deployment files' policy documents and a test that
// checks s.yaml (Function Compute), template.yaml (AWS SAM), the Makefile and
// the binary agree with each other. It has no code of its own.
package deploy
