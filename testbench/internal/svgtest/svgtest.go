// Package svgtest reads the bench's SVG drawings back in tests: the
// document must be well-formed, and each element comes with the ids and
// classes of the groups it sits in.
package svgtest

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"testing"
)

// Elem is an element of the parsed document with the ids and classes
// of the groups it sits in.
type Elem struct {
	Name    string
	Attrs   map[string]string
	Parents []string // ids and classes of the enclosing elements
}

// In reports whether the element sits in a group of that id or class.
func (e Elem) In(idOrClass string) bool {
	for _, p := range e.Parents {
		if p == idOrClass {
			return true
		}
	}
	return false
}

// Parse reads the document with encoding/xml: it must be well-formed,
// and its root an svg element in the SVG namespace.
func Parse(t testing.TB, doc []byte) []Elem {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(doc))
	var stack [][]string
	var out []Elem
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			if len(out) == 0 && (el.Name.Local != "svg" || el.Name.Space != "http://www.w3.org/2000/svg") {
				t.Fatalf("root element %v, want svg in the SVG namespace", el.Name)
			}
			e := Elem{Name: el.Name.Local, Attrs: map[string]string{}}
			var mine []string
			for _, a := range el.Attr {
				e.Attrs[a.Name.Local] = a.Value
				if a.Name.Local == "id" || a.Name.Local == "class" {
					mine = append(mine, a.Value)
				}
			}
			for _, s := range stack {
				e.Parents = append(e.Parents, s...)
			}
			out = append(out, e)
			stack = append(stack, mine)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
	return out
}
