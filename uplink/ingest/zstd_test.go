package ingest_test

import (
	"testing"

	"github.com/klauspost/compress/zstd"
)

func zstdPlain(t *testing.T, raw []byte) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	return enc.EncodeAll(raw, nil)
}
