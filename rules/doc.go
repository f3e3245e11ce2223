// Package rules loads alert rules files and evaluates them against a progress
// snapshot. It is pure: no clock, no network, no environment beyond what the
// caller hands in.
package rules
