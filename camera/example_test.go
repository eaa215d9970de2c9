package camera_test

import (
	"fmt"
	"log"
	"time"

	"quietzone/camera"
	"quietzone/camera/cameratest"
	"quietzone/can"
	"quietzone/can/profiles"
)

// Example_suppress drives two cameras of the reference vehicle: an exterior
// camera with an active-high power line and a cabin camera with an
// active-low one, both commanded through CAM_Command (0x300). Fake pins and
// a frame recorder stand in for the GPIO lines and the bus.
func Example_suppress() {
	data, err := profiles.FS.ReadFile("quietzone.dbc")
	if err != nil {
		log.Fatal(err)
	}
	db, err := can.LoadDBC("quietzone.dbc", data)
	if err != nil {
		log.Fatal(err)
	}
	cmd := db.Message("CAM_Command")

	front := cameratest.NewPin("GPIO17") // High powers the camera
	cabin := cameratest.NewPin("GPIO27") // active low: Low powers the camera
	bus := &cameratest.Frames{}
	// Every signal of CAM_Command is written in every frame: the rear
	// camera, which this vehicle does not wire, is told deny (its zero
	// would read ALLOW), and the counter carries a fixed 0.
	c, err := camera.NewController([]camera.Spec{
		{Name: "front", Class: camera.Exterior, Power: front, Command: cmd.Signal("CAM_FrontCmd")},
		{Name: "cabin", Class: camera.Cabin, Power: cabin, PowerActiveLow: true, Command: cmd.Signal("CAM_CabinCmd")},
	}, []camera.FrameWriter{bus}, camera.Options{
		Unlisted: []*can.Signal{cmd.Signal("CAM_RearCmd")},
		Fixed:    []camera.Fixed{{Signal: cmd.Signal("CAM_CmdCounter"), Raw: 0}},
	})
	if err != nil {
		log.Fatal(err)
	}

	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, suppress := range []bool{true, false} {
		if err := c.Apply(now, suppress); err != nil {
			log.Fatal(err)
		}
		f, _ := bus.Last()
		fmt.Printf("suppress=%-5v %s=%-4s %s=%-4s %s\n", suppress,
			front.Name(), cameratest.Level(front), cabin.Name(), cameratest.Level(cabin), f)
		now = now.Add(time.Second)
	}
	// The cabin camera is not Enabled: allowing leaves it denied and unpowered.

	// Output:
	// suppress=true  GPIO17=Low  GPIO27=High 300#1500000000000000
	// suppress=false GPIO17=High GPIO27=High 300#1400000000000000
}

// Example_escalation closes the loop: a camera told to stop goes on saying
// it records. Within the grace period nothing happens; after it, the
// controller cuts the power line again, resends the command and hands out
// one Escalation, which the gateway turns into an alarm and an audit event.
func Example_escalation() {
	data, err := profiles.FS.ReadFile("quietzone.dbc")
	if err != nil {
		log.Fatal(err)
	}
	db, err := can.LoadDBC("quietzone.dbc", data)
	if err != nil {
		log.Fatal(err)
	}
	front := cameratest.NewPin("GPIO17")
	cmd := db.Message("CAM_Command")
	c, err := camera.NewController([]camera.Spec{{
		Name: "front", Class: camera.Exterior, Power: front,
		Command:   cmd.Signal("CAM_FrontCmd"),
		HasStatus: true, PurgeOnEntry: true,
	}}, []camera.FrameWriter{&cameratest.Frames{}}, camera.Options{
		Grace:    2 * time.Second,
		Unlisted: []*can.Signal{cmd.Signal("CAM_RearCmd"), cmd.Signal("CAM_CabinCmd")},
		Fixed:    []camera.Fixed{{Signal: cmd.Signal("CAM_CmdCounter")}},
	})
	if err != nil {
		log.Fatal(err)
	}

	start := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	if err := c.Apply(start, true); err != nil { // deny, purge, power off
		log.Fatal(err)
	}
	var esc []camera.Escalation
	for ms := 100; ms <= 3000; ms += 100 {
		now := start.Add(time.Duration(ms) * time.Millisecond)
		c.ObserveStatus(0, camera.DefaultCodes.Recording, now) // it says it records
		if err := c.Tick(now); err != nil {
			log.Fatal(err)
		}
		for _, e := range c.Escalations(esc[:0]) {
			fmt.Printf("%s %s: %v after the breach began, power line %s\n",
				e.Name, e.Breach, e.At.Sub(e.Since), cameratest.Level(front))
		}
	}
	fmt.Printf("%+v\n", c.Stats())

	// Output:
	// front disobeyed: 2.1s after the breach began, power line Low
	// {Commands:4 CommandErrors:0 PowerErrors:0 TriggersAllowed:0 TriggersDropped:0 DisobedientStatus:30 Purges:1 Escalations:1 StatusLost:0}
}
