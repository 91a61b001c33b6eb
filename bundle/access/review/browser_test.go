package review_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/cedargate/cedargate/bundle/access/review"
)

// browserPath finds Debian's chromium, which .ci/run installs. A missing
// browser fails the test: a review page nobody opened in a browser is not
// tested.
func browserPath(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	t.Fatal("chromium is not installed (apt-get install chromium; .ci/run does it): the HTML review must be checked in a real browser")
	return ""
}

// problems collects what the page reports as wrong: console errors and
// warnings, uncaught exceptions, browser log errors, and any request that
// leaves the file (the page must be self-contained).
type problems struct {
	mu   sync.Mutex
	list []string
	// seen receives every console message's text, for the probe.
	seen chan string
}

func (p *problems) add(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.list = append(p.list, fmt.Sprintf(format, args...))
}

func (p *problems) get() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.list...)
}

func (p *problems) listen(ev any) {
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		var text []string
		for _, a := range ev.Args {
			text = append(text, strings.Trim(string(a.Value), `"`))
		}
		msg := strings.Join(text, " ")
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			p.add("console.%s: %s", ev.Type, msg)
		}
		select {
		case p.seen <- msg:
		default:
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		p.add("uncaught exception at %s:%d:%d: %s", d.URL, d.LineNumber+1, d.ColumnNumber+1, d.Text)
	case *cdplog.EventEntryAdded:
		if ev.Entry.Level == cdplog.EntryLevelError || ev.Entry.Level == cdplog.EntryLevelWarning {
			p.add("browser log %s (%s): %s %s", ev.Entry.Level, ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
		}
	case *network.EventRequestWillBeSent:
		if u := ev.Request.URL; !strings.HasPrefix(u, "file://") && !strings.HasPrefix(u, "data:") {
			p.add("request to %s: the page must not load anything", u)
		}
	}
}

// TestHTMLInChromium opens the demo review in headless Chromium, driven
// over the DevTools protocol: the page loads with no console error, no
// exception and no request beyond itself; the summary comes first, the
// unowned section leads, and within each team the identities are in
// order of risk, overdue and risky before the rest (read from the DOM the
// browser built); and it prints.
func TestHTMLInChromium(t *testing.T) {
	exe := browserPath(t)
	var buf bytes.Buffer
	if err := review.WriteHTML(&buf, demo(t)); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "review.html")
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		// Tests run as root in CI, where Chromium's sandbox refuses
		// to start.
		chromedp.NoSandbox,
		chromedp.UserDataDir(t.TempDir()),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	p := &problems{seen: make(chan string, 16)}
	// The listener is in place before the tab opens, so it hears
	// everything the page does from its first byte.
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithListener(p.listen))
	defer cancelBrowser()
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("chromium (%s) did not start: %v", exe, err)
	}
	if err := chromedp.Do(bctx, chromedp.Navigate("file://"+file), chromedp.WaitReady(chromedp.CSS("#summary"))); err != nil {
		t.Fatalf("loading %s: %v", file, err)
	}

	t.Run("document order: summary, unowned, risk first", func(t *testing.T) {
		type pageOrder struct {
			SummaryFirst bool
			Sections     []struct {
				Team       string
				Identities []struct{ Risk, Name string }
			}
		}
		const js = `({
  SummaryFirst: !!(document.querySelector("#summary").compareDocumentPosition(document.querySelector("section.team")) & Node.DOCUMENT_POSITION_FOLLOWING),
  Sections: Array.from(document.querySelectorAll("section.team")).map(s => ({
    Team: s.dataset.team,
    Identities: Array.from(s.querySelectorAll("article.identity")).map(a => ({Risk: a.dataset.risk, Name: a.dataset.name})),
  })),
})`
		order, err := chromedp.Run(bctx, chromedp.Evaluate[pageOrder](js))
		if err != nil {
			t.Fatal(err)
		}
		if !order.SummaryFirst {
			t.Error("the summary is not before the sections")
		}
		if len(order.Sections) != 4 || order.Sections[0].Team != "" {
			t.Fatalf("sections %+v: want the unowned section first, then payments, platform, security", order.Sections)
		}
		rank := map[string]int{"error": 0, "overdue": 1, "expiring": 2, "ok": 3}
		var overdue []string
		for _, s := range order.Sections {
			last := -1
			for _, id := range s.Identities {
				r, ok := rank[id.Risk]
				if !ok {
					t.Fatalf("%s: risk %q", id.Name, id.Risk)
				}
				if r < last {
					t.Errorf("team %q: %s (%s) is shown after a less urgent identity", s.Team, id.Name, id.Risk)
				}
				last = r
				if id.Risk == "overdue" {
					overdue = append(overdue, id.Name)
				}
			}
		}
		// The overdue review and the overdue rotation are on the page,
		// and each leads its team after any errors.
		for _, s := range order.Sections {
			for i, id := range s.Identities {
				if id.Risk == "overdue" && i > 0 && s.Identities[i-1].Risk != "error" && s.Identities[i-1].Risk != "overdue" {
					t.Errorf("team %q: overdue %s is not first", s.Team, id.Name)
				}
			}
		}
		if strings.Join(overdue, " ") != "ServiceAccount/billing-bot ServiceAccount/reports-job" {
			t.Errorf("overdue identities on the page: %v", overdue)
		}
	})

	t.Run("prints", func(t *testing.T) {
		pdf, err := chromedp.Run(bctx, chromedp.PrintToPDF())
		if err != nil || !bytes.HasPrefix(pdf, []byte("%PDF")) {
			t.Fatalf("printing: %v (%d bytes)", err, len(pdf))
		}
	})

	t.Run("no console errors, exceptions or requests", func(t *testing.T) {
		// A probe proves the listener hears the page: once its message
		// arrives, everything the page logged before it has too.
		const probe = "cedargate-review-probe"
		if _, err := chromedp.Run(bctx, chromedp.Evaluate[any](`console.log("`+probe+`")`)); err != nil {
			t.Fatal(err)
		}
		for heard := false; !heard; {
			select {
			case msg := <-p.seen:
				heard = msg == probe
			case <-ctx.Done():
				t.Fatal("the console probe never arrived: the listener hears nothing")
			}
		}
		if got := p.get(); len(got) > 0 {
			t.Errorf("the page reported problems:\n%s", strings.Join(got, "\n"))
		}
	})
}
