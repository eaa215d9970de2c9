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
	c, err := camera.NewController([]camera.Spec{
		{Name: "front", Class: camera.Exterior, Power: front, Command: cmd.Signal("CAM_FrontCmd")},
		{Name: "cabin", Class: camera.Cabin, Power: cabin, PowerActiveLow: true, Command: cmd.Signal("CAM_CabinCmd")},
	}, bus, camera.Options{})
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
	// suppress=true  GPIO17=Low  GPIO27=High 300#1100000000000000
	// suppress=false GPIO17=High GPIO27=High 300#1000000000000000
}
