package config

import (
	"maps"
	"quietzone/gateway"
	"slices"
	"strings"

	"quietzone/camera"
	"quietzone/can"
)

// The messages the gateway sends are the profile's command messages:
// those that carry a camera's command (commands:). It writes each of them
// whole, in every frame, on every bus a camera in it is on:
//
//   - a camera's command signal carries that camera's command if the
//     configuration lists the camera, and deny if it does not: a camera
//     is never left to the zero a frame starts from, which is ALLOW in
//     many DBCs (the reference one included);
//   - every other signal of the message (a counter, a reserved field)
//     must be given a raw value under command_fixed, which every frame
//     carries. The gateway cannot count or compute a checksum: a message
//     whose receivers check one cannot be sent by it.
//
// A profile is refused, at the line of the entry concerned, when a signal
// of a command message is neither a command nor fixed (unassigned), two
// of them share a bit (in either byte order), one signal commands two
// cameras, a camera has two commands, a code or value does not fit its
// signal, or a command message is multiplexed.

// commandEntry is one signal the profile has the gateway write.
type commandEntry struct {
	key     string // the profile's key: camera.NAME, or MESSAGE.SIGNAL under command_fixed
	section string // commands or command_fixed
	ref     string
	sig     *can.Signal
	camera  string // the camera it commands; "" for a fixed value
	raw     int64  // the fixed value
	line    int
}

func (e *commandEntry) path() []any { return []any{e.section, e.key} }

func (e *commandEntry) fixed() bool { return e.section == "command_fixed" }

// subject names the entry at the start of a message.
func (e *commandEntry) subject() string {
	if e.fixed() {
		return "command_fixed " + e.key + ": it"
	}
	return "command " + e.key + ": " + e.ref
}

// what says what writes into the entry's signal.
func (e *commandEntry) what() string {
	if e.fixed() {
		return "a fixed value"
	}
	return "the command of camera " + e.camera
}

// loadCommands reads commands: and command_fixed: and checks that the
// messages they make the gateway send are written whole and unambiguous.
func (p *Profile) loadCommands(doc *YAMLDoc, pf *profileFile) error {
	if err := camera.CheckStatusCodes(p.Codes); err != nil {
		return doc.Errorf([]any{"camera_status"}, "%v", err)
	}
	var entries []commandEntry
	for key, ref := range pf.Commands {
		entries = append(entries, commandEntry{key: key, section: "commands", ref: ref,
			camera: strings.TrimPrefix(key, gateway.CameraRolePrefix), line: doc.Line("commands", key)})
	}
	for ref, raw := range pf.CommandFixed {
		entries = append(entries, commandEntry{key: ref, section: "command_fixed", ref: ref, raw: raw, line: doc.Line("command_fixed", ref)})
	}
	slices.SortFunc(entries, func(a, b commandEntry) int {
		if a.line != b.line {
			return a.line - b.line
		}
		return strings.Compare(a.section+a.key, b.section+b.key)
	})
	cams := map[string]*commandEntry{}
	owner := map[*can.Signal]*commandEntry{}
	var sent []*can.Message // in the order of their first command
	first := map[*can.Message]*commandEntry{}
	for i := range entries {
		e := &entries[i]
		msgName, sigName, _ := strings.Cut(e.ref, ".")
		if m := p.DB.Message(msgName); m != nil {
			e.sig = m.Signal(sigName)
		}
		if e.sig == nil {
			if e.fixed() {
				return doc.Errorf(e.path(), "command_fixed %s: no such signal in %s", e.ref, p.DB.Name)
			}
			return doc.Errorf(e.path(), "command %s: no signal %q in %s", e.key, e.ref, p.DB.Name)
		}
		if !e.fixed() {
			if e.camera == "" || strings.Contains(e.camera, ".") {
				return doc.Errorf(e.path(), "command %s: want camera.NAME", e.key)
			}
			if o := cams[e.camera]; o != nil {
				return doc.Errorf(e.path(), "command %s: a second command for camera %s (line %d)", e.key, e.camera, o.line)
			}
			cams[e.camera] = e
		}
		if o := owner[e.sig]; o != nil {
			return doc.Errorf(e.path(), "%s is already %s", e.subject(), o.what())
		}
		owner[e.sig] = e
		if e.fixed() {
			continue
		}
		if err := camera.CheckCommand(e.sig, p.Codes, false); err != nil {
			return doc.Errorf(e.path(), "command %s: %v", e.key, err)
		}
		if m := e.sig.Message; first[m] == nil {
			first[m] = e
			sent = append(sent, m)
		}
	}
	for i := range entries {
		e := &entries[i]
		if !e.fixed() {
			continue
		}
		if first[e.sig.Message] == nil {
			return doc.Errorf(e.path(), "%s is not a signal of a message the gateway sends (no camera's command is in %s)", e.subject(), e.sig.Message.Name)
		}
		var d [can.MaxDataLen]byte
		e.sig.SetRaw(&d, uint64(e.raw))
		if e.sig.Raw(&d) != e.raw {
			return doc.Errorf(e.path(), "command_fixed %s: %d does not fit its %d bits", e.key, e.raw, e.sig.Length)
		}
		// A camera's command hidden as a fixed "allow": the DBC describes
		// the value as the commands describe their allow code.
		if desc, ok := e.sig.Describe(e.raw); ok {
			for _, o := range cams {
				if allow, ok := o.sig.Describe(p.Codes.Allow); ok && strings.EqualFold(allow, desc) {
					return doc.Errorf(e.path(), "command_fixed %s: %d reads %q, as camera %s's allow code does: a camera's command belongs under commands, where it is told deny unless allowed", e.key, e.raw, desc, o.camera)
				}
			}
		}
		p.Fixed = append(p.Fixed, camera.Fixed{Signal: e.sig, Raw: e.raw})
	}
	for _, m := range sent {
		e0 := first[m]
		if m.Mux != nil {
			return doc.Errorf(e0.path(), "command message %s is multiplexed: the gateway cannot write it whole", m.Name)
		}
		for _, sig := range m.Signals {
			if owner[sig] == nil {
				return doc.Errorf(e0.path(), "command message %s: signal %s is no camera's command and has no value under command_fixed: the gateway writes every signal of the messages it sends", m.Name, sig.Name)
			}
		}
		var written []*commandEntry // in line order
		for i := range entries {
			if e := &entries[i]; e.sig.Message == m {
				for _, o := range written {
					if e.sig.Overlaps(o.sig) {
						return doc.Errorf(e.path(), "%s shares bits with %s.%s (%s): a frame cannot carry both", e.subject(), m.Name, o.sig.Name, o.what())
					}
				}
				written = append(written, e)
			}
		}
	}
	for _, e := range entries {
		if !e.fixed() {
			p.Commands[e.camera] = e.sig
		}
	}
	return nil
}

// CameraOptions is o with what the profile says of its command messages
// for a vehicle whose cameras are specs: the codes, the fixed signals,
// and the commands of the profile's cameras that specs do not drive,
// which are told deny.
func (p *Profile) CameraOptions(specs []camera.Spec, o camera.Options) camera.Options {
	o.Codes = p.Codes
	o.Fixed = p.Fixed
	o.Unlisted = nil
	for _, name := range slices.Sorted(maps.Keys(p.Commands)) {
		sig := p.Commands[name]
		if !slices.ContainsFunc(specs, func(s camera.Spec) bool { return s.Command == sig }) {
			o.Unlisted = append(o.Unlisted, sig)
		}
	}
	return o
}

// Unlisted returns the names of the profile's cameras with a command
// that the configuration does not list, sorted.
func (p *Profile) Unlisted(cams []CameraConfig) []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(p.Commands)) {
		if !slices.ContainsFunc(cams, func(c CameraConfig) bool { return c.Name == name }) {
			out = append(out, name)
		}
	}
	return out
}
