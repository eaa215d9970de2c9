package uplink

// AppendColumns is appendColumns, for the tests that build format 3
// objects (the dictionary's training).
var AppendColumns = appendColumns
