package testbench

import (
	"bytes"
	"encoding/json"
	"math"
	"sync"
	"time"
	"unicode/utf8"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"quietzone/testbench/internal/zonemap"
	"quietzone/uplink"
)

// WireMessage is one thing the broker received from the vehicle, as an
// observer who holds the broker sees it: the observer's transcript
// (quietzone-bench sim --wire) is one per line, in the order received.
type WireMessage struct {
	// Trip is the scenario's name; Vehicle the vehicle's pseudonym.
	Trip    string `json:"trip"`
	Vehicle string `json:"vehicle"`
	// Event is "publish", "will" (the broker published the vehicle's last
	// will), "connect" or "disconnect" (no topic, no payload).
	Event string `json:"event"`
	Topic string `json:"topic,omitempty"`
	// T is when the broker received it, in simulated Unix seconds
	// (millisecond precision): the bench's clock at the broker's receipt.
	T        float64 `json:"t"`
	Bytes    int     `json:"bytes"`
	Retained bool    `json:"retained,omitempty"`
	// Records is a telemetry or alarm payload decoded (uplink.DecodeBatch,
	// whatever its format version); Text any other payload; Error why a
	// batch did not decode (Text then holds nothing).
	Records []uplink.Record `json:"records,omitempty"`
	Text    string          `json:"text,omitempty"`
	Error   string          `json:"error,omitempty"`
}

// wireTap is a broker hook that keeps what the broker receives from one
// vehicle, stamped with the drive's clock at receipt.
type wireTap struct {
	mochi.HookBase
	now       func() time.Time
	trip      string
	pseudonym string
	clientID  string
	mu        sync.Mutex
	msgs      []WireMessage
}

func newWireTap(now func() time.Time, trip, pseudonym string) *wireTap {
	return &wireTap{now: now, trip: trip, pseudonym: pseudonym, clientID: "quietzone-" + pseudonym}
}

func (w *wireTap) ID() string { return "quietzone-bench-wire" }

func (w *wireTap) Provides(b byte) bool {
	return bytes.Contains([]byte{mochi.OnPublish, mochi.OnWillSent, mochi.OnConnect, mochi.OnDisconnect}, []byte{b})
}

func (w *wireTap) stamp() float64 {
	return math.Round(float64(w.now().UnixNano())/1e6) / 1e3
}

func (w *wireTap) keep(m WireMessage) {
	m.Trip, m.Vehicle = w.trip, w.pseudonym
	w.mu.Lock()
	w.msgs = append(w.msgs, m)
	w.mu.Unlock()
}

// ours reports whether a topic is the vehicle's.
func (w *wireTap) ours(topic string) bool {
	p, _, ok := uplink.SplitTopic(topic)
	return ok && p == w.pseudonym
}

func (w *wireTap) publish(event string, pk packets.Packet) {
	if !w.ours(pk.TopicName) {
		return
	}
	m := WireMessage{Event: event, Topic: pk.TopicName, T: w.stamp(), Bytes: len(pk.Payload), Retained: pk.FixedHeader.Retain}
	if _, kind, _ := uplink.SplitTopic(pk.TopicName); kind == uplink.KindNameTelemetry || kind == uplink.KindNameAlarm {
		recs, err := uplink.DecodeBatch(pk.Payload)
		m.Records = recs
		if err != nil {
			m.Error = err.Error()
		}
	} else if utf8.Valid(pk.Payload) {
		m.Text = string(pk.Payload)
	}
	w.keep(m)
}

func (w *wireTap) OnPublish(cl *mochi.Client, pk packets.Packet) (packets.Packet, error) {
	w.publish("publish", pk)
	return pk, nil
}

func (w *wireTap) OnWillSent(cl *mochi.Client, pk packets.Packet) { w.publish("will", pk) }

func (w *wireTap) OnConnect(cl *mochi.Client, pk packets.Packet) error {
	if cl.ID == w.clientID {
		w.keep(WireMessage{Event: "connect", T: w.stamp()})
	}
	return nil
}

func (w *wireTap) OnDisconnect(cl *mochi.Client, err error, expire bool) {
	if cl.ID == w.clientID {
		w.keep(WireMessage{Event: "disconnect", T: w.stamp()})
	}
}

// Messages returns what the tap kept so far.
func (w *wireTap) Messages() []WireMessage {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]WireMessage(nil), w.msgs...)
}

// Truth is what the simulator knows of a trip and the observer must
// not: the attacks are scored against it (quietzone-bench sim --truth).
type Truth struct {
	Trip    string `json:"trip"`
	Vehicle string `json:"vehicle"`
	// Start and End are the drive's first and last simulated second.
	Start float64    `json:"start"`
	End   float64    `json:"end"`
	From  [2]float64 `json:"from"` // latitude, longitude
	To    [2]float64 `json:"to"`
	// Home is the vehicle's home, when the scenario gives it one.
	Home  *[2]float64 `json:"home,omitempty"`
	Zones []TruthZone `json:"zones"`
	// Covers are the covers and decoys the vehicle withheld by: the
	// bundle's secret, for scoring alone.
	Covers []TruthCover `json:"covers,omitempty"`
	// Track is the vehicle's true position once a second: Unix seconds,
	// latitude, longitude, speed in km/h.
	Track [][4]float64 `json:"track"`
}

// TruthZone is a zone the trip was driven with, and how near it came.
type TruthZone struct {
	ID string `json:"id"`
	// Lat, Lon is the zone's centroid; RadiusM the greatest distance
	// from it to the zone's edge.
	Lat     float64 `json:"lat"`
	Lon     float64 `json:"lon"`
	RadiusM float64 `json:"radius_m"`
	BufferM float64 `json:"buffer_m"`
	// NearestM is the least distance from the true track to the zone
	// (negative: the track entered it).
	NearestM float64 `json:"nearest_m"`
}

// truthZones measures a trip's zones against its true track.
func truthZones(zonesGeoJSON []byte, track [][4]float64) []TruthZone {
	shapes, err := zonemap.ParseShapes(zonesGeoJSON)
	if err != nil {
		return nil
	}
	var out []TruthZone
	for _, z := range shapes {
		c := z.Centroid(zonemap.NewPlane(0, 0))
		lat, lon := zonemap.NewPlane(0, 0).LatLon(c)
		pl := zonemap.NewPlane(lat, lon)
		lo, hi := z.Bounds(pl) // the zone and its buffer
		r := math.Max(hi.X-lo.X, hi.Y-lo.Y)/2 - z.BufferM
		tz := TruthZone{ID: z.ID, Lat: lat, Lon: lon, RadiusM: math.Round(r), BufferM: z.BufferM, NearestM: math.Inf(1)}
		for _, p := range track {
			tz.NearestM = math.Min(tz.NearestM, z.SignedDistance(pl, pl.XY(p[1], p[2])))
		}
		tz.NearestM = math.Round(tz.NearestM)
		out = append(out, tz)
	}
	return out
}

// WriteJSONLines writes each value as one line of JSON.
func WriteJSONLines[T any](enc *json.Encoder, vs []T) error {
	for i := range vs {
		if err := enc.Encode(&vs[i]); err != nil {
			return err
		}
	}
	return nil
}
