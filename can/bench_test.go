package can_test

import (
	"sync"
	"testing"

	"quietzone/can"
	"quietzone/can/cantest"
)

// sink keeps the compiler from discarding benchmark results.
var sink int

func benchDecode(b *testing.B, d *can.Decoder, f can.Frame, wantN int, wantErr error) {
	b.Helper()
	out := make([]can.Value, max(1, d.MaxValuesPerFrame()))
	f.Time = t0
	if n, err := d.Decode(&f, out); n != wantN || err != wantErr {
		b.Fatalf("Decode(%v) = %d, %v; want %d, %v", f, n, err, wantN, wantErr)
	}
	b.ReportAllocs()
	for b.Loop() {
		n, _ := d.Decode(&f, out)
		sink += n
	}
}

// BenchmarkDecodeMapped decodes a classic frame whose signals are mapped.
func BenchmarkDecodeMapped(b *testing.B) {
	// The reference vehicle's GNSS_Status: four 3..16-bit Intel signals,
	// through the decoder of the whole reference profile.
	b.Run("GNSS_Status", func(b *testing.B) {
		f := frame(417, 0, 0x63, 0x00, 0x7d, 0x00, 0x0e, 0x6a, 0x88, 0x13)
		benchDecode(b, refDecoder(b), f, 4, nil)
	})
	// Three mapped signals of the reference GNSS_Status.
	b.Run("GNSS_Status_3", func(b *testing.B) {
		d := newDecoder(b, cantest.RefDB(b),
			can.Mapping{Role: "position.fix", Message: "GNSS_Status", Signal: "GNSS_FixType"},
			can.Mapping{Role: "position.accuracy", Message: "GNSS_Status", Signal: "GNSS_HAccuracy"},
			can.Mapping{Role: "position.speed", Message: "GNSS_Status", Signal: "GNSS_Speed"},
		)
		f := frame(417, 0, 0x63, 0x00, 0x7d, 0x00, 0x0e, 0x6a, 0x88, 0x13)
		benchDecode(b, d, f, 3, nil)
	})
	// Two 32-bit signed Motorola signals.
	b.Run("GNSS_Position", func(b *testing.B) {
		f := frame(416, 0, 0x1c, 0xb1, 0x27, 0x60, 0xf9, 0x19, 0xb8, 0x08)
		benchDecode(b, refDecoder(b), f, 2, nil)
	})
	// Tesla MCU_locationStatus: three signed Intel signals (28, 29, 7 bits).
	b.Run("Tesla_MCU_locationStatus", func(b *testing.B) {
		db := sharedDB(b, "tesla_can.dbc")
		d := newDecoder(b, db,
			can.Mapping{Role: "position.latitude", Message: "MCU_locationStatus", Signal: "MCU_latitude"},
			can.Mapping{Role: "position.longitude", Message: "MCU_locationStatus", Signal: "MCU_longitude"},
			can.Mapping{Role: "position.accuracy", Message: "MCU_locationStatus", Signal: "MCU_gpsAccuracy"},
		)
		f := encode(b, db, "MCU_locationStatus", map[string]float64{
			"MCU_latitude": 37.421999, "MCU_longitude": -122.084058, "MCU_gpsAccuracy": 2.4,
		})
		benchDecode(b, d, f, 3, nil)
	})
}

// BenchmarkDecodeUnmapped decodes frames whose identifier carries nothing
// mapped: the common case on a real bus.
func BenchmarkDecodeUnmapped(b *testing.B) {
	b.Run("standard", func(b *testing.B) {
		benchDecode(b, refDecoder(b), frame(0x123, 0, 1, 2, 3, 4, 5, 6, 7, 8), 0, can.ErrUnmapped)
	})
	b.Run("extended", func(b *testing.B) {
		benchDecode(b, refDecoder(b), frame(0x18fef100, can.Extended, 1, 2, 3, 4, 5, 6, 7, 8), 0, can.ErrUnmapped)
	})
}

// BenchmarkBusFanout writes frames from one port to three readers.
func BenchmarkBusFanout(b *testing.B) {
	const readers = 3
	bus := can.NewBus(fixedClock(t0))
	w := bus.Open()
	var wg sync.WaitGroup
	var rs []*can.Port
	for range readers {
		p := bus.Open()
		rs = append(rs, p)
		wg.Add(1)
		go func() {
			defer wg.Done()
			var f can.Frame
			for p.ReadFrame(&f) == nil {
			}
		}()
	}
	f := frame(0x123, 0, 1, 2, 3, 4, 5, 6, 7, 8)
	b.ReportAllocs()
	for b.Loop() {
		if err := w.WriteFrame(&f); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	w.Close()
	for _, p := range rs {
		p.Close()
	}
	wg.Wait()
}
