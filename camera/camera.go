package camera

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"periph.io/x/conn/v3/gpio"

	"quietzone/can"
)

// Class says what a camera looks at.
type Class string

// Camera classes.
const (
	// Exterior cameras record the surroundings (sentry, dashcam).
	Exterior Class = "exterior"
	// Cabin cameras record the occupants. They stay off unless enabled
	// (Spec.Enabled; the gateway enables one only when both the vehicle's
	// configuration and the fleet's policy allow it): cabin data stays in
	// the car by default.
	Cabin Class = "cabin"
)

// Status is what a camera reports about itself.
type Status uint8

// Camera statuses. Unknown means no status was heard recently.
const (
	Unknown Status = iota
	Idle
	Recording
	Fault
	Off
)

var statusNames = [...]string{"unknown", "idle", "recording", "fault", "off"}

func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("status(%d)", s)
}

// Codes are the raw CAN values of the command and status signals.
type Codes struct {
	Allow, Deny, Purge          int64
	Idle, Recording, Fault, Off int64
}

// DefaultCodes are the values of the quietzone reference DBC.
var DefaultCodes = Codes{Allow: 0, Deny: 1, Purge: 2, Idle: 0, Recording: 1, Fault: 2, Off: 3}

// Spec is the wiring of one camera.
type Spec struct {
	Name  string
	Class Class
	// Power switches the camera's supply; nil when it has none.
	Power gpio.PinOut
	// PowerActiveLow: the camera is powered when the line is Low.
	PowerActiveLow bool
	// Command is the DBC signal that carries its recording command; nil
	// when it has none. Several cameras may share one message.
	Command *can.Signal
	// Buses are the indices, among the controller's buses, of those its
	// command goes to; nil: every bus. A command message goes to every
	// bus of every camera it carries.
	Buses []int
	// Enabled allows a cabin camera to record when not suppressed.
	// Exterior cameras ignore it.
	Enabled bool
	// PurgeOnEntry: the command that suppresses the camera carries the
	// purge code (deny and drop the pre-event buffer) once, on every
	// entry into suppression, so that footage of the approach to a zone
	// cannot be saved by a later trigger. It needs a command signal.
	PurgeOnEntry bool
	// HasStatus: the camera reports its status on the bus. Its silence
	// then counts as doubt: silent while it may not record and its power
	// cannot be cut (no line, or the cut failed) is escalated like
	// recording (Unverified).
	HasStatus bool
}

// FrameWriter sends command frames; a virtual-bus port or SocketCAN.
// WriteFrame must not retain f after it returns: the controller reuses it.
type FrameWriter interface {
	WriteFrame(f *can.Frame) error
}

// Fixed is a signal of a command message that is no camera's command (a
// counter, a reserved field): every frame carries Raw in it.
type Fixed struct {
	Signal *can.Signal
	Raw    int64
}

// Options configure a Controller.
type Options struct {
	Codes Codes
	// Unlisted are the command signals of cameras the vehicle has and the
	// controller does not drive (the configuration does not list them):
	// every frame of their message tells them deny, on every bus. Their
	// message is sent even if no driven camera shares it.
	Unlisted []*can.Signal
	// Fixed are the other signals of the command messages.
	//
	// Every signal of a message the controller sends is a driven
	// camera's command, an unlisted one's or fixed, and no two share a
	// bit: NewController refuses anything else, so that no bit of a
	// frame is left to a zero that a camera could read as allow.
	Fixed []Fixed
	// StatusTimeout: a camera not heard from for this long is Unknown.
	StatusTimeout time.Duration
	// Resend: the command frame is repeated this often, so that a camera
	// that restarts learns its command within one period.
	Resend time.Duration
	// Grace is how long a camera may go on recording (by its status)
	// after it was told to stop, before it is escalated: its power cut
	// again, the command resent, and an Escalation handed out. It is the
	// time a camera takes to stop; default 2 s.
	Grace time.Duration
}

// Stats count what the controller did and saw.
type Stats struct {
	Commands          uint64 // command frames sent (one per message and bus)
	CommandErrors     uint64 // command frames that could not be sent
	PowerErrors       uint64 // power-line writes that failed
	TriggersAllowed   uint64 // triggers while recording was allowed
	TriggersDropped   uint64 // triggers while suppressed: counted, nothing recorded
	DisobedientStatus uint64 // status frames saying "recording" while suppressed
	Purges            uint64 // purge commands delivered (one per camera and entry)
	Escalations       uint64 // cameras escalated: disobedient or unverified beyond the grace period
	StatusLost        uint64 // times a camera's status went silent for StatusTimeout
}

// State is the controller's view of one camera.
type State struct {
	Name    string
	Class   Class
	Allowed bool // commanded to record-allowed
	// Powered: the power line is on, or not known to be off because its
	// last write failed. True when the camera has no line.
	Powered    bool
	Status     Status
	StatusTime time.Time
	// Suspect is when the camera began to breach its command (recording
	// while not allowed, or silent and uncut); zero while it obeys.
	// Escalated: it was escalated for this breach.
	Suspect   time.Time
	Escalated bool
}

// Breach says how a camera failed its command.
type Breach uint8

// Breaches.
const (
	// Disobeyed: its status said it was recording while it was not
	// allowed to record.
	Disobeyed Breach = iota + 1
	// Unverified: its status went silent (or was never heard) while it
	// was not allowed to record and its power could not be cut, so that
	// nothing shows it stopped.
	Unverified
)

func (b Breach) String() string {
	switch b {
	case Disobeyed:
		return "disobeyed"
	case Unverified:
		return "unverified"
	}
	return fmt.Sprintf("breach(%d)", b)
}

// Escalation is a camera that breached its command for longer than the
// grace period. The controller has cut its power again and resends the
// command; the caller raises the alarm.
type Escalation struct {
	Camera int // index, as Lookup returns it
	Name   string
	Class  Class
	Breach Breach
	// Since is when the breach began, At when the grace period ran out.
	Since, At time.Time
}

type cam struct {
	spec    Spec
	state   State
	trigger bool
	purge   bool // the next command carries the purge code
	// lastBreach is the last time the camera was seen breaching: a
	// breach ends only after it obeyed for a whole grace period, so that
	// a camera flapping between "recording" and "idle" cannot restart
	// the clock.
	lastBreach time.Time
	pending    bool // escalated, not yet handed out by Escalations
	breach     Breach
	escAt      time.Time
}

// cmdMsg is a command message and everything that goes into it.
type cmdMsg struct {
	msg   *can.Message
	buses []FrameWriter // where it goes
	busID []int         // their indices among the controller's buses
	cams  []int         // the driven cameras it commands
	deny  []*can.Signal // unlisted cameras' commands
	fixed []Fixed
}

// Controller drives all cameras of a vehicle.
type Controller struct {
	opts       Options
	cams       []cam
	msgs       []cmdMsg // distinct command messages
	suppressed bool
	applied    bool
	cabinOff   bool // the policy in force forbids cabin cameras (AllowCabin)
	forceSend  bool // an escalation: resend at the next Tick
	lastSend   time.Time
	stats      Stats
	frame      can.Frame // reused by send, so that it does not allocate
}

// NewController checks the wiring; it does not touch any camera until the
// first Apply. Command frames go to buses (see Spec.Buses).
func NewController(specs []Spec, buses []FrameWriter, opts Options) (*Controller, error) {
	if opts.Codes == (Codes{}) {
		opts.Codes = DefaultCodes
	}
	if opts.StatusTimeout <= 0 {
		opts.StatusTimeout = 2 * time.Second
	}
	if opts.Resend <= 0 {
		opts.Resend = time.Second
	}
	if opts.Grace <= 0 {
		opts.Grace = 2 * time.Second
	}
	c := &Controller{opts: opts, suppressed: true}
	seen := map[string]bool{}
	owner := map[*can.Signal]string{} // signal of a command message -> what writes it
	for _, s := range specs {
		if s.Name == "" || seen[s.Name] {
			return nil, fmt.Errorf("camera %q: empty or duplicate name", s.Name)
		}
		seen[s.Name] = true
		if s.Class != Exterior && s.Class != Cabin {
			return nil, fmt.Errorf("camera %s: class %q, want %q or %q", s.Name, s.Class, Exterior, Cabin)
		}
		if s.Power == nil && s.Command == nil {
			return nil, fmt.Errorf("camera %s: neither a power line nor a command signal: it could not be suppressed", s.Name)
		}
		if s.PurgeOnEntry && s.Command == nil {
			return nil, fmt.Errorf("camera %s: purge on entry needs a command signal to carry it", s.Name)
		}
		if s.Command != nil {
			if len(buses) == 0 {
				return nil, fmt.Errorf("camera %s: command signal but no CAN bus", s.Name)
			}
			if other, ok := owner[s.Command]; ok {
				return nil, fmt.Errorf("camera %s: command signal %s already commands %s", s.Name, s.Command.Name, other)
			}
			owner[s.Command] = "camera " + s.Name
			if err := CheckCommand(s.Command, opts.Codes, s.PurgeOnEntry); err != nil {
				return nil, fmt.Errorf("camera %s: %w", s.Name, err)
			}
			if err := checkBuses(s.Buses, len(buses)); err != nil {
				return nil, fmt.Errorf("camera %s: %w", s.Name, err)
			}
		}
		c.cams = append(c.cams, cam{spec: s, state: State{Name: s.Name, Class: s.Class}})
	}
	for _, sig := range opts.Unlisted {
		if other, ok := owner[sig]; ok {
			return nil, fmt.Errorf("unlisted command signal %s already commands %s", sig.Name, other)
		}
		owner[sig] = "an unlisted camera"
		if len(buses) == 0 {
			return nil, fmt.Errorf("unlisted command signal %s but no CAN bus to tell it deny", sig.Name)
		}
		if err := fits(sig, "deny", opts.Codes.Deny); err != nil {
			return nil, err
		}
	}
	for _, fx := range opts.Fixed {
		if other, ok := owner[fx.Signal]; ok {
			return nil, fmt.Errorf("fixed signal %s already commands %s", fx.Signal.Name, other)
		}
		owner[fx.Signal] = "a fixed value"
		if err := fits(fx.Signal, "fixed value", fx.Raw); err != nil {
			return nil, err
		}
	}
	if err := c.layout(buses); err != nil {
		return nil, err
	}
	if err := CheckStatusCodes(opts.Codes); err != nil {
		return nil, err
	}
	return c, nil
}

func checkBuses(idx []int, n int) error {
	for i, b := range idx {
		if b < 0 || b >= n {
			return fmt.Errorf("bus %d: there are %d", b, n)
		}
		for _, o := range idx[:i] {
			if o == b {
				return fmt.Errorf("bus %d named twice", b)
			}
		}
	}
	return nil
}

// layout gathers the command messages and checks that every one is
// written whole: each of its signals has exactly one writer, and no two
// share a bit.
func (c *Controller) layout(buses []FrameWriter) error {
	on := map[*can.Message][]bool{} // message -> the buses it goes to
	msg := func(m *can.Message) *cmdMsg {
		for i := range c.msgs {
			if c.msgs[i].msg == m {
				return &c.msgs[i]
			}
		}
		c.msgs = append(c.msgs, cmdMsg{msg: m})
		on[m] = make([]bool, len(buses))
		return &c.msgs[len(c.msgs)-1]
	}
	onBuses := func(m *cmdMsg, idx []int) {
		for i := range buses {
			if idx == nil || slices.Contains(idx, i) {
				on[m.msg][i] = true
			}
		}
	}
	for i := range c.cams {
		if s := &c.cams[i].spec; s.Command != nil {
			m := msg(s.Command.Message)
			m.cams = append(m.cams, i)
			onBuses(m, s.Buses)
		}
	}
	for _, sig := range c.opts.Unlisted {
		m := msg(sig.Message)
		m.deny = append(m.deny, sig)
		onBuses(m, nil) // nothing says where the camera is
	}
	for _, fx := range c.opts.Fixed {
		m := msg(fx.Signal.Message)
		if len(m.cams) == 0 && len(m.deny) == 0 {
			return fmt.Errorf("fixed signal %s: its message %s carries no camera's command", fx.Signal.Name, fx.Signal.Message.Name)
		}
		m.fixed = append(m.fixed, fx)
	}
	for i := range c.msgs {
		m := &c.msgs[i]
		for b, ok := range on[m.msg] {
			if ok {
				m.buses = append(m.buses, buses[b])
				m.busID = append(m.busID, b)
			}
		}
		if m.msg.Mux != nil {
			return fmt.Errorf("command message %s is multiplexed: the controller cannot write it whole", m.msg.Name)
		}
		written := make([]*can.Signal, 0, len(m.msg.Signals))
		for _, j := range m.cams {
			written = append(written, c.cams[j].spec.Command)
		}
		written = append(written, m.deny...)
		for _, fx := range m.fixed {
			written = append(written, fx.Signal)
		}
		for _, sig := range m.msg.Signals {
			if !slices.Contains(written, sig) {
				return fmt.Errorf("command message %s: signal %s is no camera's command and has no fixed value: a frame would leave it to chance", m.msg.Name, sig.Name)
			}
		}
		for a := range written {
			for _, b := range written[:a] {
				if written[a].Overlaps(b) {
					return fmt.Errorf("command message %s: signals %s and %s share bits", m.msg.Name, b.Name, written[a].Name)
				}
			}
		}
	}
	return nil
}

// CheckCommand makes sure the deny and allow codes (and the purge code,
// when it is used) reach a camera through its command signal s as given:
// SetRaw drops the bits that do not fit, which could turn a deny into an
// allow.
func CheckCommand(s *can.Signal, codes Codes, purge bool) error {
	check := []struct {
		name string
		code int64
	}{{"deny", codes.Deny}, {"allow", codes.Allow}}
	if purge {
		check = append(check, struct {
			name string
			code int64
		}{"purge", codes.Purge})
	}
	for _, c := range check {
		if err := fits(s, c.name+" code", c.code); err != nil {
			return err
		}
	}
	if codes.Deny == codes.Allow {
		return fmt.Errorf("command signal %s: deny code %d and allow code %d are the same", s.Name, codes.Deny, codes.Allow)
	}
	if purge && codes.Purge == codes.Allow {
		return fmt.Errorf("command signal %s: purge code %d and allow code %d are the same", s.Name, codes.Purge, codes.Allow)
	}
	return nil
}

// fits checks that raw reaches the bus as given in signal s.
func fits(s *can.Signal, what string, raw int64) error {
	var d [can.MaxDataLen]byte
	s.SetRaw(&d, uint64(raw))
	if s.Raw(&d) != raw {
		return fmt.Errorf("command signal %s (%d bits) cannot carry %s %d", s.Name, s.Length, what, raw)
	}
	return nil
}

// CheckStatusCodes refuses status codes that would be confused: with
// recording equal to idle, a recording camera would look obedient.
func CheckStatusCodes(c Codes) error {
	codes := map[int64]string{}
	for _, s := range []struct {
		name string
		code int64
	}{{"idle", c.Idle}, {"recording", c.Recording}, {"fault", c.Fault}, {"off", c.Off}} {
		if other, dup := codes[s.code]; dup {
			return fmt.Errorf("camera status codes: %s and %s are both %d", other, s.name, s.code)
		}
		codes[s.code] = s.name
	}
	return nil
}

// Lookup returns the index of the camera called name.
func (c *Controller) Lookup(name string) (int, bool) {
	for i := range c.cams {
		if c.cams[i].spec.Name == name {
			return i, true
		}
	}
	return 0, false
}

// mayRecord says whether camera i may record when nothing is suppressed.
func (c *Controller) mayRecord(i int) bool {
	s := &c.cams[i].spec
	return s.Class == Exterior || (s.Enabled && !c.cabinOff)
}

// AllowCabin says whether the fleet's policy lets the enabled cabin
// cameras record (a new policy while running); it takes effect at the
// next Apply. It never enables a camera its Spec does not.
func (c *Controller) AllowCabin(allowed bool) { c.cabinOff = !allowed }

// Apply suppresses (suppress true) or allows all cameras: it sends the
// command frames and sets every power line. It always tries every camera
// and returns every error, joined; a failure is never a reason to stop
// cutting power to the others.
//
// An entry into suppression (the first Apply, or suppress after allow)
// purges the pre-event buffer of every camera with PurgeOnEntry. A camera
// that is not allowed to record from now on gets Options.Grace, counted
// from now, to stop.
func (c *Controller) Apply(now time.Time, suppress bool) error {
	entry := suppress && (!c.applied || !c.suppressed)
	c.suppressed = suppress
	c.applied = true
	for i := range c.cams {
		k := &c.cams[i]
		k.state.Allowed = !suppress && c.mayRecord(i)
		// A purge not yet delivered stays due while suppressed.
		k.purge = suppress && k.spec.PurgeOnEntry && (entry || k.purge)
	}
	err := errors.Join(c.power(), c.send(now))
	for i := range c.cams {
		c.verify(i, now)
	}
	return err
}

// power sets every power line to what its camera's command says.
func (c *Controller) power() error {
	var errs []error
	for i := range c.cams {
		k := &c.cams[i]
		allow := k.state.Allowed
		failed := false
		if k.spec.Power != nil {
			if err := k.spec.Power.Out(c.level(k, allow)); err != nil {
				c.stats.PowerErrors++
				errs = append(errs, fmt.Errorf("camera %s power: %w", k.spec.Name, err))
				failed = true
			}
		}
		k.state.Powered = allow || k.spec.Power == nil || failed
	}
	return errors.Join(errs...)
}

func (c *Controller) level(k *cam, on bool) gpio.Level {
	if k.spec.PowerActiveLow {
		return !gpio.Level(on)
	}
	return gpio.Level(on)
}

// send writes every command message, whole, with the current command
// of each of its cameras, to each of its buses.
func (c *Controller) send(now time.Time) error {
	var errs []error
	codes := &c.opts.Codes
	for mi := range c.msgs {
		m := &c.msgs[mi]
		f := &c.frame
		*f = m.msg.NewFrame()
		f.Time = now
		// Every signal of the message is written (NewController checked):
		// nothing is left to the zero NewFrame starts from.
		for _, fx := range m.fixed {
			fx.Signal.SetRaw(&f.Data, uint64(fx.Raw))
		}
		for _, sig := range m.deny {
			sig.SetRaw(&f.Data, uint64(codes.Deny))
		}
		for _, i := range m.cams {
			k := &c.cams[i]
			code := codes.Deny
			switch {
			case k.state.Allowed:
				code = codes.Allow
			case k.purge:
				code = codes.Purge
			}
			k.spec.Command.SetRaw(&f.Data, uint64(code))
		}
		sent := true
		for bi, w := range m.buses {
			if err := w.WriteFrame(f); err != nil {
				c.stats.CommandErrors++
				errs = append(errs, fmt.Errorf("send camera command %s on bus %d: %w", m.msg.Name, m.busID[bi], err))
				sent = false
				continue
			}
			c.stats.Commands++
		}
		if !sent {
			continue // a purge not delivered everywhere goes with the retry
		}
		for _, i := range m.cams {
			if k := &c.cams[i]; k.purge {
				k.purge = false
				c.stats.Purges++
			}
		}
	}
	if len(errs) == 0 {
		c.lastSend = now // on failure, the next tick tries again
	}
	return errors.Join(errs...)
}

// Tick repeats the command frames when they are due, ages out status and
// checks every camera against its command (see Escalations).
func (c *Controller) Tick(now time.Time) error {
	for i := range c.cams {
		st := &c.cams[i].state
		if st.Status != Unknown && now.Sub(st.StatusTime) > c.opts.StatusTimeout {
			st.Status = Unknown
			c.stats.StatusLost++
		}
	}
	if !c.applied {
		return nil
	}
	// A power cut that failed once must not wait for the next decision:
	// every tick writes every line again (writing the same level is
	// harmless), so a glitch or a transient error heals within a tick.
	err := c.power()
	for i := range c.cams {
		c.verify(i, now)
	}
	// A clock stepped backwards (NTP, GNSS time) must not silence resends.
	if !c.forceSend && now.Sub(c.lastSend) < c.opts.Resend && !now.Before(c.lastSend) {
		return err
	}
	c.forceSend = false // a failed send is retried next tick anyway
	return errors.Join(err, c.send(now))
}

// breachOf says whether camera k is breaching its command now.
func (c *Controller) breachOf(k *cam) Breach {
	switch {
	case k.state.Allowed:
		return 0
	case k.state.Status == Recording:
		return Disobeyed
	case k.state.Status == Unknown && k.spec.HasStatus && k.state.Powered:
		// Powered is true without a line and when the cut failed.
		return Unverified
	}
	return 0
}

// verify follows camera i's breach and escalates it once its grace period
// is over: the power line is cut again at once and the command is resent
// at the next Tick. One escalation per breach; a breach ends when the
// camera has obeyed for a whole grace period.
func (c *Controller) verify(i int, now time.Time) {
	k := &c.cams[i]
	st := &k.state
	b := c.breachOf(k)
	if !c.applied || k.state.Allowed {
		st.Suspect, st.Escalated = time.Time{}, false
		return
	}
	if b == 0 {
		if !st.Suspect.IsZero() && now.Sub(k.lastBreach) > c.opts.Grace {
			st.Suspect, st.Escalated = time.Time{}, false
		}
		return
	}
	k.lastBreach = now
	// A clock stepped backwards restarts the grace period rather than
	// stretching it by the step.
	if st.Suspect.IsZero() || now.Before(st.Suspect) {
		st.Suspect = now
	}
	if st.Escalated || now.Sub(st.Suspect) <= c.opts.Grace {
		return
	}
	st.Escalated = true
	k.pending, k.breach, k.escAt = true, b, now
	c.stats.Escalations++
	c.forceSend = true
	if k.spec.Power != nil {
		if err := k.spec.Power.Out(c.level(k, false)); err != nil {
			c.stats.PowerErrors++ // Powered stays true: the cut is still in doubt
		} else {
			st.Powered = false
		}
	}
}

// Escalations appends to dst the cameras escalated since the last call,
// each once. It does not allocate when dst has room for every camera.
func (c *Controller) Escalations(dst []Escalation) []Escalation {
	for i := range c.cams {
		k := &c.cams[i]
		if !k.pending {
			continue
		}
		k.pending = false
		dst = append(dst, Escalation{Camera: i, Name: k.spec.Name, Class: k.spec.Class, Breach: k.breach, Since: k.state.Suspect, At: k.escAt})
	}
	return dst
}

// ObserveStatus records a status signal's raw value from camera i.
func (c *Controller) ObserveStatus(i int, raw int64, now time.Time) {
	k := &c.cams[i]
	codes := &c.opts.Codes
	switch raw {
	case codes.Idle:
		k.state.Status = Idle
	case codes.Recording:
		k.state.Status = Recording
		if !k.state.Allowed {
			c.stats.DisobedientStatus++
		}
	case codes.Fault:
		k.state.Status = Fault
	case codes.Off:
		k.state.Status = Off
	default:
		k.state.Status = Unknown
	}
	k.state.StatusTime = now
	c.verify(i, now)
}

// ObserveTrigger records camera i's trigger input. A rising trigger while
// the camera is not allowed to record is counted and dropped.
func (c *Controller) ObserveTrigger(i int, active bool, now time.Time) {
	k := &c.cams[i]
	if active && !k.trigger {
		if k.state.Allowed {
			c.stats.TriggersAllowed++
		} else {
			c.stats.TriggersDropped++
		}
	}
	k.trigger = active
}

// Suppressed reports the last decision applied.
func (c *Controller) Suppressed() bool { return c.suppressed }

// States returns a copy of every camera's state.
func (c *Controller) States() []State {
	out := make([]State, len(c.cams))
	for i := range c.cams {
		out[i] = c.cams[i].state
	}
	return out
}

// Stats returns the counters.
func (c *Controller) Stats() Stats { return c.stats }
