package uplink

// AppendColumns is appendColumns, for the tests that build format 3
// objects (the dictionary's training).
var AppendColumns = appendColumns

// SetGridM sets the grid Fill writes positions on, as the Uplink does.
func (b *Batcher) SetGridM(m float64) { b.grid = m }
