package main

import (
	"bytes"
	"context"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"quietzone/cmd/internal/cli"
	"quietzone/gateway/bundle"
	"quietzone/uplink"
	"quietzone/uplink/atrest"
	"quietzone/uplink/store"
)

//go:embed console/*.html
var consoleFS embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"join": strings.Join,
	"ts":   func(t time.Time) string { return t.Format("2006-01-02 15:04:05") },
}).ParseFS(consoleFS, "console/*.html"))

// console is the web console's state.
type console struct {
	db      *store.DB
	token   []byte
	log     *slog.Logger
	publish func(pseudonym string, data []byte) error // nil: no broker, no rollouts
	plan    rolloutPlan
	// bundleKey opens bundles' sealed zones and covers for the map; nil:
	// the map says they are sealed.
	bundleKey *bundle.BodyKey

	mu      sync.Mutex
	running bool
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("serve", stderr)
	dsn := dbFlag(fs)
	listen := fs.String("listen", "127.0.0.1:8080", "address to serve on")
	tokenFile := fs.String("token-file", "", "file holding the token that changes of state need (0600)")
	broker := fs.String("broker", "", "broker for rollouts started from the console")
	plain := fs.Bool("insecure-plaintext", false, "allow a tcp:// broker on a loopback address")
	logLevel := fs.String("log", "info", "log level")
	bundleKeyFile := fs.String("bundle-key", "", "the fleet's bundle key: the zone map opens bundles' sealed zones and covers with it")
	tf := addTLSFlags(fs)
	if err := cli.ParseInto(fs, args); err != nil {
		return err
	}
	if *tokenFile == "" {
		return cli.UsageError("serve: --token-file is required (rollouts need it)")
	}
	tok, err := atrest.Read(*tokenFile, atrest.Secret.Named("console token"))
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	tok = bytes.TrimSpace(tok)
	if len(tok) < 16 {
		return errors.New("serve: the token must be at least 16 characters")
	}
	log, err := cli.NewLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	db, err := openDB(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	c := &console{db: db, token: tok, log: log, plan: rolloutPlan{stages: []int{10, 100}, confirm: 0.95, wait: 15 * time.Minute, poll: time.Second}}
	if *bundleKeyFile != "" {
		if c.bundleKey, err = bundle.LoadBodyKey(*bundleKeyFile); err != nil {
			return fmt.Errorf("serve: %w", err)
		}
	}
	if *broker != "" {
		tc, err := tf.config()
		if err != nil {
			return fmt.Errorf("serve: %w", err)
		}
		if _, err := uplink.CheckBroker(*broker, *plain); err != nil {
			return fmt.Errorf("serve: %w", err)
		}
		opts := mqtt.NewClientOptions().AddBroker(*broker).SetClientID("quietzone-console").SetProtocolVersion(4).SetAutoReconnect(true)
		if tc != nil {
			opts.SetTLSConfig(tc)
		}
		mc := mqtt.NewClient(opts)
		if t := mc.Connect(); !t.WaitTimeout(30*time.Second) || t.Error() != nil {
			return fmt.Errorf("serve: connect %s: %v", *broker, t.Error())
		}
		defer mc.Disconnect(250)
		c.publish = func(p string, data []byte) error {
			t := mc.Publish(uplink.Topic(p, uplink.KindNamePolicy), 1, true, data)
			if !t.WaitTimeout(30*time.Second) || t.Error() != nil {
				return fmt.Errorf("publish: %v", t.Error())
			}
			return nil
		}
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	fmt.Fprintf(stdout, "console on http://%s\n", l.Addr())
	return c.serve(ctx, l)
}

func (c *console) serve(ctx context.Context, l net.Listener) error {
	srv := &http.Server{Handler: c.handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (c *console) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", c.page("compliance", c.compliance))
	mux.HandleFunc("GET /alarms", c.page("alarms", c.alarms))
	mux.HandleFunc("GET /vehicle/{p}", c.page("vehicle", c.vehicle))
	mux.HandleFunc("GET /map", c.page("map", c.zoneMap))
	mux.HandleFunc("GET /rollouts", c.page("rollouts", c.rollouts))
	mux.HandleFunc("POST /rollouts", c.startRollout)
	mux.HandleFunc("GET /api/status", func(w http.ResponseWriter, r *http.Request) {
		f, err := compliance(r.Context(), c.db, 0, 10*time.Minute, time.Now())
		if err != nil {
			http.Error(w, "status unavailable", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(f)
	})
	return c.logged(mux)
}

// logged logs each request by method, path pattern and status: never a
// query, a body or a position.
func (c *console) logged(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, code: 200}
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'")
		w.Header().Set("X-Frame-Options", "DENY")
		h.ServeHTTP(sw, r)
		path := r.URL.Path
		if strings.HasPrefix(path, "/vehicle/") {
			path = "/vehicle/{p}" // a pseudonym is an identifier
		}
		c.log.Info("request", "method", r.Method, "path", path, "status", sw.code)
	})
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) { s.code = code; s.ResponseWriter.WriteHeader(code) }

// page renders a template with what load returns.
func (c *console) page(name string, load func(r *http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		data, err := load(r)
		if err != nil {
			c.log.Error("console page", "page", name, "err", err)
			http.Error(w, "the page could not be made", http.StatusInternalServerError)
			return
		}
		var buf bytes.Buffer
		if err := pages.ExecuteTemplate(&buf, name+".html", map[string]any{"Page": name, "D": data}); err != nil {
			c.log.Error("console template", "page", name, "err", err)
			http.Error(w, "the page could not be made", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(buf.Bytes())
	}
}

func (c *console) compliance(r *http.Request) (any, error) {
	return compliance(r.Context(), c.db, 0, 10*time.Minute, time.Now())
}

func (c *console) alarms(r *http.Request) (any, error) {
	return c.db.Records(r.Context(), store.RecordQuery{Alarms: true, Limit: 500})
}

func (c *console) vehicle(r *http.Request) (any, error) {
	p := r.PathValue("p")
	if !uplink.ValidPseudonym(p) {
		return nil, errors.New("not a pseudonym")
	}
	ev, err := c.db.Events(r.Context(), p, 200)
	if err != nil {
		return nil, err
	}
	recs, err := c.db.Records(r.Context(), store.RecordQuery{Vehicle: p, Limit: 200})
	if err != nil {
		return nil, err
	}
	return map[string]any{"Vehicle": p, "Events": ev, "Records": recs}, nil
}

func (c *console) rollouts(r *http.Request) (any, error) {
	rs, err := c.db.Rollouts(r.Context())
	if err != nil {
		return nil, err
	}
	type row struct {
		store.Rollout
		Share int
	}
	var out []row
	for _, x := range rs {
		sh := 0
		if x.Targets > 0 {
			sh = 100 * x.Applied / x.Targets
		}
		out = append(out, row{x, sh})
	}
	c.mu.Lock()
	running := c.running
	c.mu.Unlock()
	return map[string]any{"Rollouts": out, "CanStart": c.publish != nil, "Running": running, "Msg": r.URL.Query().Get("msg")}, nil
}

// startRollout starts a rollout of an uploaded bundle. It needs the
// token (form field token, or Authorization: Bearer).
func (c *console) startRollout(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<20)
	if err := r.ParseMultipartForm(8 << 20); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	given := r.FormValue("token")
	if a, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		given = a
	}
	if subtle.ConstantTimeCompare([]byte(given), c.token) != 1 {
		http.Error(w, "a rollout needs the console's token", http.StatusUnauthorized)
		return
	}
	if c.publish == nil {
		http.Error(w, "the console has no broker (--broker)", http.StatusServiceUnavailable)
		return
	}
	f, _, err := r.FormFile("bundle")
	if err != nil {
		http.Error(w, "no bundle", http.StatusBadRequest)
		return
	}
	data, err := io.ReadAll(io.LimitReader(f, 64<<20))
	f.Close()
	if err != nil {
		http.Error(w, "bundle unreadable", http.StatusBadRequest)
		return
	}
	b, err := bundle.ParseManifest(data)
	if err != nil {
		http.Error(w, "not a bundle: "+err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	if c.running {
		c.mu.Unlock()
		http.Error(w, "a rollout is running", http.StatusConflict)
		return
	}
	c.running = true
	c.mu.Unlock()
	go func() {
		defer func() { c.mu.Lock(); c.running = false; c.mu.Unlock() }()
		err := runRollout(context.Background(), c.db, b.Version, data, c.plan, func(p string) error { return c.publish(p, data) }, io.Discard, io.Discard)
		if err != nil {
			c.log.Warn("rollout from the console stopped", "version", b.Version, "err", err)
		}
	}()
	c.log.Info("rollout started from the console", "version", b.Version)
	http.Redirect(w, r, "/rollouts?msg=started", http.StatusSeeOther)
}
