package can

// Exported for the external tests (package can_test), which check what
// LoadDBC accepts against the naive bit-numbering reference of dbc_test.go.
var RefPositions = refPositions
