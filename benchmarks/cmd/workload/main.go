// Command workload writes the benchmarks' generated identity
// repositories, request files and OPA peer files to disk, so that anyone
// can inspect, build and replay them by hand:
//
//	go run ./benchmarks/cmd/workload repo -size 10k -now 2026-11-23 /tmp/bench-10k
//	cedargate build /tmp/bench-10k --env prod --now 2026-11-23 --store /tmp/store --activate
//	go run ./benchmarks/cmd/workload requests -size 10k -now 2026-11-23 -mix allow -n 1000 /tmp/allow.json
//	go run ./benchmarks/cmd/workload opa -size rbac10k /tmp/opa
//
// Every output is determined by the size, the mix, the count and -now
// (default: today, UTC); see package workload for what is generated.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/cedargate/cedargate/benchmarks/workload"
)

const usage = `usage:
  workload repo     [-size S] [-now DATE] DIR
  workload requests [-size S] [-now DATE] [-mix M] [-n N] [-format ghz|batch|opa] [-batch B] FILE
  workload opa      [-size S] [-now DATE] DIR      (RBAC sizes only: writes policy.rego and data.json)
  workload sizes

sizes: %s
mixes: %s
`

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "workload:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		printUsage()
		return errors.New("no command")
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	size := fs.String("size", "10k", "repository size (see `workload sizes`)")
	nowFlag := fs.String("now", "", "the day the repository is written for, YYYY-MM-DD (default today, UTC)")
	mix := fs.String("mix", "allow", "request mix")
	n := fs.Int("n", 1000, "number of requests")
	format := fs.String("format", "ghz", "request file format: ghz (JSON array of AuthorizeRequest), batch (of BatchAuthorizeRequest), opa (JSON lines of OPA input)")
	batch := fs.Int("batch", 10, "requests per BatchAuthorizeRequest, with -format batch")
	if cmd == "sizes" {
		for _, name := range workload.SizeNames() {
			spec, _ := workload.Size(name, time.Time{}) // a listed name: no error
			fmt.Printf("%-8s %+v\n", name, spec)
		}
		return nil
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%s takes one path argument", cmd)
	}
	out := fs.Arg(0)
	now := workload.DefaultNow()
	if *nowFlag != "" {
		t, err := time.Parse("2006-01-02", *nowFlag)
		if err != nil {
			return fmt.Errorf("-now: %w", err)
		}
		now = t
	}
	spec, err := workload.Size(*size, now)
	if err != nil {
		return err
	}
	repo, err := workload.Generate(spec)
	if err != nil {
		return err
	}
	switch cmd {
	case "repo":
		if err := repo.Write(out); err != nil {
			return err
		}
		c := repo.Counts()
		fmt.Printf("wrote %s: %+v\nbuild: cedargate build %s --env %s --now %s --store STORE\n",
			out, c, out, workload.Env, now.Format("2006-01-02"))
		return nil
	case "requests":
		m, err := workload.ParseMix(*mix)
		if err != nil {
			return err
		}
		reqs, err := repo.Requests(m, *n)
		if err != nil {
			return err
		}
		var data []byte
		switch *format {
		case "ghz":
			data, err = workload.GHZData(reqs, 0)
		case "batch":
			data, err = workload.GHZData(reqs, *batch)
		case "opa":
			data, err = workload.OPAInputs(reqs)
		default:
			return fmt.Errorf("-format %q: want ghz, batch or opa", *format)
		}
		if err != nil {
			return err
		}
		return os.WriteFile(out, data, 0o644)
	case "opa":
		return repo.WriteOPA(out)
	}
	printUsage()
	return fmt.Errorf("unknown command %q", cmd)
}

// printUsage writes usage, with the sizes and mixes, to standard error.
func printUsage() {
	mixes := make([]string, 0, len(workload.Mixes()))
	for _, m := range workload.Mixes() {
		mixes = append(mixes, string(m))
	}
	fmt.Fprintf(os.Stderr, usage, strings.Join(workload.SizeNames(), ", "), strings.Join(mixes, ", "))
}
