package main

import (
	"fmt"
	"os"
	"testing"

	"quietzone/gateway/gatewaytest"
)

// goodDir holds the good configuration (gatewaytest.GoodDir) for the
// tests of the command line.
var goodDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "quietzone-good-")
	if err == nil {
		err = gatewaytest.WriteGood(dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "the good configuration:", err)
		os.Exit(1)
	}
	goodDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
