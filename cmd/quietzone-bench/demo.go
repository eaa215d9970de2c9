package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"quietzone/can"
	"quietzone/cmd/internal/cli"
	"quietzone/testbench"
	"quietzone/testbench/report"
	"quietzone/testbench/scenario"
)

func demo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("demo", stderr)
	level := fs.String("log", "error", "gateway log level shown on stderr (debug, info, warn, error)")
	recordTo := fs.String("record", "", "also write the drive's frames to this candump log (for quietzone replay)")
	svgTo := fs.String("svg", "", "also write the report's map and timeline to this SVG file (make demo: out/demo.svg)")
	jsonTo := fs.String("json", "", "also write the report's figures to this JSON file")
	if err := cli.ParseInto(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return cli.UsageError("demo takes no arguments")
	}
	log, err := cli.NewLogger(stderr, *level)
	if err != nil {
		return err
	}
	opts := testbench.Options{Logger: log}
	if *recordTo != "" {
		f, err := os.Create(*recordTo)
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		w := can.NewLogWriter(f, "vcan0", false)
		defer w.Close()
		opts.Record = w
	}
	rep, err := testbench.Run(ctx, scenario.BuiltIn(), opts)
	if rep != nil {
		report.WriteText(stdout, rep)
		if werr := writeReportFiles(rep, *svgTo, *jsonTo, stdout); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		return err
	}
	if !rep.OK() {
		return cli.ErrInvariant
	}
	return nil
}

// writeReportFiles writes the report's SVG map and JSON figures where
// asked (an empty path skips it) and says where they went.
func writeReportFiles(rep *testbench.Report, svgPath, jsonPath string, stdout io.Writer) error {
	if svgPath != "" || jsonPath != "" {
		fmt.Fprintln(stdout)
	}
	if err := writeOutput(svgPath, "Map (SVG)", func(w io.Writer) error { return report.WriteSVG(w, rep) }, stdout); err != nil {
		return err
	}
	return writeOutput(jsonPath, "Figures", func(w io.Writer) error { return report.WriteJSON(w, rep) }, stdout)
}

// writeOutput writes a file with fn, making its directory, and says on
// stdout what went where; an empty path writes nothing.
func writeOutput(path, what string, fn func(io.Writer) error, stdout io.Writer) error {
	if path == "" {
		return nil
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("write %s: %w", what, err)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", what, err)
	}
	if err := fn(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s %s: %w", what, path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s %s: %w", what, path, err)
	}
	fmt.Fprintf(stdout, "%-12s %s\n", what, path)
	return nil
}
