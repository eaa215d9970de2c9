// Package can reads and writes CAN frames and turns them into signal values.
//
// It holds the frame type (classic CAN and CAN FD, up to 64 data bytes), the
// Source interface that every bus implements, an in-process virtual bus for
// tests and simulation, a SocketCAN source (Linux only), and a run-time DBC
// codec: a DBC file is parsed once with go.einride.tech/can/pkg/dbc, and a
// signal map names which of its signals the gateway needs, under stable role
// names such as "vehicle.speed" or "position.latitude". No code is generated
// from the DBC; any vehicle's DBC can be loaded while the program runs.
//
// The decode path (Decoder.Decode) does not allocate: it is called for every
// frame on a bus that can carry thousands of frames a second.
//
// The package knows nothing of zones, cameras or MQTT.
package can
