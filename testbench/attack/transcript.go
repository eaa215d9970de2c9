package attack

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"quietzone/testbench"
	"quietzone/testbench/internal/zonemap"
	"quietzone/uplink"
)

// ReadTranscript reads an observer's transcript: one JSON object a line,
// as quietzone-bench sim --wire writes it. The records are as the broker
// received them, decoded by uplink.DecodeBatch when the bench wrote the
// transcript: a new payload format changes nothing here.
func ReadTranscript(name string, r io.Reader) ([]testbench.WireMessage, error) {
	return readLines[testbench.WireMessage](name, r)
}

// ReadTruth reads the simulator's truth (quietzone-bench sim --truth).
func ReadTruth(name string, r io.Reader) ([]testbench.Truth, error) {
	return readLines[testbench.Truth](name, r)
}

func readLines[T any](name string, r io.Reader) ([]T, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<28)
	var out []T
	for line := 1; sc.Scan(); line++ {
		if len(strings.TrimSpace(sc.Text())) == 0 {
			continue
		}
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, line, err)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// Public is what the observer knows of the fleet's policy: its public
// parameters, not its secrets.
type Public struct {
	// PositionPeriod is the least time between published positions.
	PositionPeriod time.Duration
	// GridM is the position grid.
	GridM float64
	// Quantum is the near-zone time quantum.
	Quantum time.Duration
	// EndLinger is how long at most the unit stays up after the ignition
	// goes off (a random time drawn each trip): its mean is the
	// observer's best guess of the time from a trip's end to "offline".
	EndLinger time.Duration
}

// PublicOf reads the public parameters of a policy.
func PublicOf(p *uplink.Policy) Public {
	pub := Public{PositionPeriod: 5 * time.Second, Quantum: p.NearZones.TimeQuantum, EndLinger: p.NearZones.EndLinger}
	if p.Position != nil {
		if p.Position.MaxRateHz > 0 {
			pub.PositionPeriod = time.Duration(float64(time.Second) / p.Position.MaxRateHz)
		}
		pub.GridM = p.Position.PrecisionM
	}
	if pub.Quantum <= 0 {
		pub.Quantum = time.Second
	}
	return pub
}

// Publish is one telemetry publish as the broker saw it.
type Publish struct {
	T     float64
	Bytes int
	// Records is how many records it held; Merged how many of them had
	// signals but no position (what a withheld stretch leaves).
	Records, Merged int
}

// Point is a published position.
type Point struct {
	T float64 // the record's time
	P zonemap.XY
}

// Sample is a published value of the vehicle's speed (km/h), at the
// record's time. Merged: it looks like a withheld quantum's merged record
// (no position, stamped at a quantum's start, alone in its quantum),
// whose value is the latest of the quantum.
type Sample struct {
	T, V   float64
	Merged bool
	hasPos bool
}

// Trip is one trip of one vehicle as the observer holds it.
type Trip struct {
	Name, Vehicle string
	// Telemetry are the telemetry publishes in order received; Others the
	// times of every other publish (status, alarm, audit).
	Telemetry []Publish
	Alarms    []float64 // receipt times of alarm publishes
	Statuses  []float64 // receipt times of status publishes other than online/offline
	Audits    []Audit
	// Online and Offline are the receipt times of the retained status
	// words (NaN when absent); Connect and Disconnect the connection's.
	Online, Offline     float64
	Connect, Disconnect float64
	// First and Last are the first and last record times.
	First, Last float64
	Positions   []Point  // by record time
	Speeds      []Sample // by record time
	// AlarmTimes are the times alarm records carry, on whatever topic.
	AlarmTimes []float64
	// Delays are receipt time minus record time, per record.
	Delays  []float64
	Bytes   int
	quantum float64
}

// Audit is a retained audit summary received.
type Audit struct {
	T      float64
	Counts map[string]float64
}

// Observer is the attacker's view of a transcript: trips in the order
// they began, in a plane of the attacker's choosing.
type Observer struct {
	Plane  zonemap.Plane
	Public Public
	Trips  []*Trip
	// cadence is the publish period the observer reads off the wire.
	cadence float64
	// audits are each vehicle's audit summaries, in the order received.
	audits map[string][]Audit
}

// Observe turns a transcript into trips. The plane is centred on the
// published positions' mean: nothing but the wire.
func Observe(msgs []testbench.WireMessage, pub Public) *Observer {
	var sLat, sLon float64
	n := 0
	for _, m := range msgs {
		for _, r := range m.Records {
			if len(r.Pos) == 2 {
				sLat, sLon, n = sLat+r.Pos[0], sLon+r.Pos[1], n+1
			}
		}
	}
	o := &Observer{Public: pub, Plane: zonemap.NewPlane(0, 0)}
	if n > 0 {
		o.Plane = zonemap.NewPlane(sLat/float64(n), sLon/float64(n))
	}
	byKey := map[string]*Trip{}
	for _, m := range msgs {
		key := m.Vehicle + "\x00" + m.Trip
		t := byKey[key]
		if t == nil {
			nan := math.NaN()
			t = &Trip{Name: m.Trip, Vehicle: m.Vehicle, Online: nan, Offline: nan, Connect: nan, Disconnect: nan, First: nan, Last: nan, quantum: pub.Quantum.Seconds()}
			byKey[key] = t
			o.Trips = append(o.Trips, t)
		}
		t.Bytes += m.Bytes
		switch m.Event {
		case "connect":
			if math.IsNaN(t.Connect) {
				t.Connect = m.T
			}
			continue
		case "disconnect":
			t.Disconnect = m.T
			continue
		}
		_, kind, _ := uplink.SplitTopic(m.Topic)
		switch kind {
		case uplink.KindNameTelemetry:
			p := Publish{T: m.T, Bytes: m.Bytes, Records: len(m.Records)}
			for _, r := range m.Records {
				if r.Alarm != "" { // an alarm riding in the telemetry
					t.AlarmTimes = append(t.AlarmTimes, float64(r.Time))
					continue
				}
				if len(r.Pos) != 2 && len(r.Signals) > 0 {
					p.Merged++
				}
				o.record(t, r, m.T)
			}
			t.Telemetry = append(t.Telemetry, p)
		case uplink.KindNameAlarm:
			t.Alarms = append(t.Alarms, m.T)
			for _, r := range m.Records {
				t.AlarmTimes = append(t.AlarmTimes, float64(r.Time))
			}
		case uplink.KindNameStatus:
			switch m.Text {
			case uplink.StatusOnline:
				if math.IsNaN(t.Online) {
					t.Online = m.T
				}
			case uplink.StatusOffline:
				t.Offline = m.T
			default:
				t.Statuses = append(t.Statuses, m.T)
			}
		case uplink.KindNameAudit:
			var s struct {
				Counts map[string]float64 `json:"counts"`
			}
			_ = json.Unmarshal([]byte(m.Text), &s) // a sealed or unknown summary: its time alone
			t.Audits = append(t.Audits, Audit{T: m.T, Counts: s.Counts})
		}
	}
	for _, t := range o.Trips {
		sort.SliceStable(t.Positions, func(i, j int) bool { return t.Positions[i].T < t.Positions[j].T })
		sort.SliceStable(t.Speeds, func(i, j int) bool { return t.Speeds[i].T < t.Speeds[j].T })
		sort.SliceStable(t.Telemetry, func(i, j int) bool { return t.Telemetry[i].T < t.Telemetry[j].T })
		q := pub.Quantum.Seconds()
		for i := range t.Speeds {
			s := &t.Speeds[i]
			alone := i+1 == len(t.Speeds) || t.Speeds[i+1].T-s.T >= q-1
			s.Merged = !s.hasPos && q > 1 && math.Mod(s.T, q) == 0 && alone
		}
	}
	o.cadence = o.Cadence(o.Trips)
	o.audits = map[string][]Audit{}
	for _, t := range o.Trips {
		o.audits[t.Vehicle] = append(o.audits[t.Vehicle], t.Audits...)
	}
	for _, as := range o.audits {
		sort.SliceStable(as, func(i, j int) bool { return as[i].T < as[j].T })
	}
	return o
}

func (o *Observer) record(t *Trip, r uplink.Record, at float64) {
	rt := float64(r.Time)
	if math.IsNaN(t.First) || rt < t.First {
		t.First = rt
	}
	if math.IsNaN(t.Last) || rt > t.Last {
		t.Last = rt
	}
	t.Delays = append(t.Delays, at-rt)
	if len(r.Pos) == 2 && math.Abs(r.Pos[0]) <= 90 && math.Abs(r.Pos[1]) <= 180 {
		t.Positions = append(t.Positions, Point{T: rt, P: o.Plane.XY(r.Pos[0], r.Pos[1])})
	}
	if v, ok := r.Signals["vehicle.speed"]; ok {
		t.Speeds = append(t.Speeds, Sample{T: rt, V: v, hasPos: len(r.Pos) == 2})
	}
}

// Begin is the observer's time of the trip's start: its connection, its
// online word or its first record not merged, whichever is first, but
// not before its first record's time (a merged record is stamped with
// its quantum's start, before the trip began).
func (t *Trip) Begin() float64 {
	first := math.NaN()
	for _, s := range t.Speeds {
		if !s.Merged {
			first = s.T
			break
		}
	}
	if len(t.Positions) > 0 {
		first = nanMin(first, t.Positions[0].T)
	}
	b := nanMin(t.Connect, t.Online, first)
	if math.IsNaN(b) {
		return t.First
	}
	b = nanMax(b, t.First)
	// A first record merged: the trip began within its quantum.
	if len(t.Speeds) > 0 && t.Speeds[0].Merged && t.Speeds[0].T == t.First {
		b = math.Min(b, t.First+t.quantum)
	}
	return b
}

// End is the latest of its records, offline word and disconnection.
func (t *Trip) End() float64 { return nanMax(t.Disconnect, t.Offline, t.Last) }

func nanMin(xs ...float64) float64 {
	m := math.NaN()
	for _, x := range xs {
		if !math.IsNaN(x) && (math.IsNaN(m) || x < m) {
			m = x
		}
	}
	return m
}

func nanMax(xs ...float64) float64 {
	m := math.NaN()
	for _, x := range xs {
		if !math.IsNaN(x) && (math.IsNaN(m) || x > m) {
			m = x
		}
	}
	return m
}
