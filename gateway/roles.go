package gateway

import (
	"fmt"
	"strings"

	"quietzone/can"
	"quietzone/uplink"
)

// What may leave the vehicle is decided by what a value means, not by how
// its role is spelled. A role of the signal map is either well-known (the
// closed vocabulary in package uplink: uplink.RoleClass, with a fixed
// class) or custom, and then the profile declares its class in the long
// form: {signal: MESSAGE.SIGNAL, class: vehicle|location|personal}. Only
// vehicle data can leave; the gateway hands every sample to the uplink
// with its role's class, and the uplink drops all but ClassVehicle
// whatever the policy lists.
//
// ClassifyRoles gives every role of a signal map its class, and the
// reasons a role's class cannot be vouched for:
//   - its name is not a role's one spelling (uplink.ValidRole: lower-case
//     ASCII, no patterns, no other scripts or cases);
//   - it is a well-known role with a class: of its own;
//   - it is a custom role in a family reserved for well-known roles
//     (position.*, phone.*, privacy.*, camera.*), or declares no class, or
//     an unknown one;
//   - it is custom vehicle data in a DBC message that carries a location or
//     personal role (a message, or another multiplexed page of it, that
//     carries a coordinate or a contact may repeat it), or well-known
//     vehicle data whose bits overlap those of such a role.
//
// (One DBC signal under two roles is refused by can.NewDecoder.) What it
// cannot see: the same quantity repeated in a message of its own and
// mapped under a custom role declared vehicle; a custom role's class is
// the profile author's word.
//
// A role with a problem gets ClassUnknown (a well-known one keeps its
// class), so that a gateway built from an unchecked signal map (New does
// not refuse one) lets none of it out; LoadProfile refuses the profile.
func ClassifyRoles(db *can.Database, maps []can.Mapping) ([]uplink.Class, []*can.MapError) {
	classes := make([]uplink.Class, len(maps))
	var problems []*can.MapError
	bad := func(i int, format string, args ...any) {
		problems = append(problems, &can.MapError{Role: maps[i].Role, Reason: fmt.Sprintf(format, args...)})
	}
	custom := make([]bool, len(maps))
	for i, m := range maps {
		if !uplink.ValidRole(m.Role) {
			bad(i, "not a role name (%s)", uplink.RoleSpelling)
			continue
		}
		if c, ok := uplink.RoleClass(m.Role); ok {
			classes[i] = c
			if m.Class != "" {
				bad(i, "%s is a well-known role of class %s: class: is for custom roles", m.Role, c)
			}
			continue
		}
		if family, ok := reservedFamily(m.Role); ok {
			bad(i, "%s.* names only the well-known roles (%s): a custom role needs a name of its own", family, familyRoles(family))
			continue
		}
		if m.Class == "" {
			bad(i, "%s is not a well-known role: declare its class: {signal: %s.%s, class: vehicle|location|personal}", m.Role, m.Message, m.Signal)
			continue
		}
		c, err := uplink.ParseClass(m.Class)
		if err != nil {
			bad(i, "%v", err)
			continue
		}
		classes[i], custom[i] = c, true
	}
	// Vehicle data beside location or personal data in one message.
	sigs := make([]*can.Signal, len(maps))
	for i, m := range maps {
		if msg := db.Message(m.Message); msg != nil {
			sigs[i] = msg.Signal(m.Signal)
		}
	}
	for i := range maps {
		if classes[i] != uplink.ClassVehicle || sigs[i] == nil {
			continue
		}
		for j := range maps {
			if classes[j] == uplink.ClassVehicle || sigs[j] == nil || sigs[j].Message != sigs[i].Message {
				continue
			}
			if custom[i] {
				bad(i, "%s is declared vehicle data but shares message %s with %s (%s): a message that carries location or personal data may repeat it under another name; declare %s location or personal, or map a signal of another message",
					maps[i].Role, maps[i].Message, maps[j].Role, classes[j], maps[i].Role)
				classes[i] = uplink.ClassUnknown
				break
			}
			if overlap(sigs[i], sigs[j]) {
				bad(i, "%s shares bits of message %s with %s (%s)", maps[i].Role, maps[i].Message, maps[j].Role, classes[j])
				classes[i] = uplink.ClassUnknown
				break
			}
		}
	}
	return classes, problems
}

// reservedFamily reports whether a name that is not a well-known role is
// in a family of well-known roles (position, phone, privacy, camera).
func reservedFamily(role string) (string, bool) {
	if role == "camera" || strings.HasPrefix(role, CameraRolePrefix) {
		return "camera", true
	}
	family, _, ok := uplink.Reserved(role)
	return family, ok
}

// familyRoles names the well-known roles of a family, for messages.
func familyRoles(family string) string {
	if family == "camera" {
		return "camera.NAME.status, camera.NAME.trigger"
	}
	var names []string
	for _, r := range uplink.WellKnownRoles() {
		if strings.HasPrefix(r, family+".") {
			names = append(names, r)
		}
	}
	return strings.Join(names, ", ")
}

// overlap reports whether two signals of one message can share bits of
// one frame: in the same multiplexed page (or either in every page) with
// a bit in common.
func overlap(a, b *can.Signal) bool {
	if a.Multiplexed && b.Multiplexed && a.MuxValue != b.MuxValue {
		return false
	}
	var ma, mb [can.MaxDataLen]byte
	a.SetRaw(&ma, ^uint64(0))
	b.SetRaw(&mb, ^uint64(0))
	for k := range ma {
		if ma[k]&mb[k] != 0 {
			return true
		}
	}
	return false
}

// WellKnownFirst orders a signal map: well-known roles, then custom ones,
// each sorted, so that a problem between a well-known and a custom role
// (one DBC signal under both) is reported at the custom one.
func WellKnownFirst(a, b can.Mapping) int {
	_, ka := uplink.RoleClass(a.Role)
	_, kb := uplink.RoleClass(b.Role)
	switch {
	case ka && !kb:
		return -1
	case kb && !ka:
		return 1
	}
	return strings.Compare(a.Role, b.Role)
}
