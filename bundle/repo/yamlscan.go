package repo

import (
	"unicode/utf8"

	"github.com/cedargate/cedargate/bundle/diag"
)

// The YAML parser (goccy/go-yaml) has no limits of its own, and it spends
// far more than its input in two ways: every value keeps the path of keys
// that leads to it, so nesting, or a long key above many values, costs
// quadratic memory (80 KB of "[[[[" take 2.5 GB); and it splits a file
// into documents with a recursion, one level per document, whose copies
// are quadratic in their number. It also drops, silently, every document
// after an empty one ("---\n---\n"). So before the parser sees a file,
// scanYAML reads it once, with constant memory per nesting level, checks
// depth, values and path length against the limits, refuses anchors and
// aliases, and cuts the file into its documents, which are then parsed
// one at a time.
//
// The scan knows YAML's lexical structure (indentation, flow brackets,
// quoted and block scalars, comments, document markers), not its full
// grammar: it may count a value the parser would not make, never the
// other way round. FuzzParseYAML checks the parser's trees against it,
// and TestScanAgreesWithTheYAMLTestSuite that it changes no reading.

// yamlScan is what scanYAML learns of a file.
type yamlScan struct {
	docs  []docSpan
	nodes int
}

// docSpan is one document of a file: its bytes, and the line it starts on.
type docSpan struct {
	start, end int
	line       int
}

type blockLevel struct {
	col  int // column of the entries ("-" or keys)
	seq  bool
	path int // length of the collection's own path
	seg  int // length the current entry adds to it
	idx  int
}

type flowLevel struct {
	seq  bool
	path int
	seg  int
	idx  int
}

type yamlScanner struct {
	file      string
	src       []byte
	lim       Limits
	maxNodes  int
	nodesKey  string
	i         int
	line      int
	lineStart int
	block     []blockLevel
	flow      []flowLevel
	nodes     int
	// tok, tokLine and tokLineStart locate the token being scanned, where
	// a breach is reported.
	tok, tokLine, tokLineStart int
	// the document being scanned
	docStart, docLine int
	docContent        bool
	docs              []docSpan
	err               *diag.Diagnostic
}

// scanYAML checks a YAML file against the limits and splits it into
// documents. Its node count is taken from b, and refused when b has too
// few left; on success b is charged with it.
func scanYAML(file string, src []byte, b *budget) (*yamlScan, *diag.Diagnostic) {
	// Load has checked the files it read, but whoever calls, the parser
	// must never see a byte that is not UTF-8: it turns each into U+FFFD.
	if d := checkUTF8(file, src); d != nil {
		return nil, d
	}
	s := &yamlScanner{file: file, src: src, lim: b.Limits, line: 1, docLine: 1,
		maxNodes: b.YAMLNodes, nodesKey: "yaml_nodes"}
	if left := b.RepositoryNodes - b.nodes; left < s.maxNodes {
		s.maxNodes, s.nodesKey = left, "repository_nodes"
	}
	s.scan()
	if s.err != nil {
		return nil, s.err
	}
	b.nodes += s.nodes
	return &yamlScan{docs: s.docs, nodes: s.nodes}, nil
}

func (s *yamlScanner) scan() {
	for s.i < len(s.src) && s.err == nil {
		// At the start of a line, in block context.
		switch {
		case s.marker("---"):
			s.endDoc(s.i)
			// Even an empty document is one of its own: the parser must
			// never see two markers in one piece.
			s.docContent = true
			s.i += 3
			s.tokens()
		case s.marker("..."):
			// "..." ends its document, and the parser reads what
			// follows it on its line as the next one.
			if s.restIsBlank(s.i + 3) {
				s.skipLine()
				s.endDoc(s.i)
				continue
			}
			s.endDoc(s.i)
			s.i += 3
			s.tokens()
		case s.src[s.i] == '%' && len(s.block) == 0:
			// A directive (%YAML, %TAG) belongs to the document that
			// follows it.
			s.skipLine()
		default:
			s.tokens()
		}
	}
	s.endDoc(len(s.src))
}

// restIsBlank reports whether the line holds nothing but white space and
// a comment from i on.
func (s *yamlScanner) restIsBlank(i int) bool {
	for ; i < len(s.src) && !s.isBreak(i); i++ {
		switch s.src[i] {
		case ' ', '\t', '\r':
		case '#':
			return true
		default:
			return false
		}
	}
	return true
}

// marker reports whether the line starts with a document marker.
func (s *yamlScanner) marker(m string) bool {
	end := s.i + len(m)
	return s.i == s.lineStart && end <= len(s.src) && string(s.src[s.i:end]) == m && s.blankAt(end)
}

// endDoc closes the document being scanned at end, and starts the next
// one there. A document with no content yet (comments, directives) is not
// closed: it is the start of the next one.
func (s *yamlScanner) endDoc(end int) {
	s.block, s.flow = s.block[:0], s.flow[:0]
	if s.docContent && end > s.docStart {
		s.docs = append(s.docs, docSpan{start: s.docStart, end: end, line: s.docLine})
		s.docStart, s.docLine, s.docContent = end, s.line, false
		// Each document is a node of its own to the parser.
		s.node()
	}
}

func (s *yamlScanner) blankAt(i int) bool {
	return i >= len(s.src) || s.src[i] == ' ' || s.src[i] == '\t' || s.src[i] == '\n' || s.src[i] == '\r'
}

// isBreak reports whether a line break is at i: "\n", or a "\r" alone
// (in "\r\n" the "\r" is white space before the break).
func (s *yamlScanner) isBreak(i int) bool {
	return s.src[i] == '\n' || s.src[i] == '\r' && (i+1 >= len(s.src) || s.src[i+1] != '\n')
}

func (s *yamlScanner) newline() {
	s.i++
	s.line++
	s.lineStart = s.i
}

func (s *yamlScanner) skipLine() {
	for s.i < len(s.src) && !s.isBreak(s.i) {
		s.i++
	}
	if s.i < len(s.src) {
		s.newline()
	}
}

func (s *yamlScanner) col() int { return s.i - s.lineStart }

// mark records that a token starts at the current offset.
func (s *yamlScanner) mark() { s.tok, s.tokLine, s.tokLineStart = s.i, s.line, s.lineStart }

// tokens scans the rest of a line in block context. It returns at the
// start of the next line (a flow collection or a quoted or block scalar
// may take more lines).
func (s *yamlScanner) tokens() {
	for s.i < len(s.src) && s.err == nil {
		c := s.src[s.i]
		s.mark()
		switch {
		case s.isBreak(s.i):
			s.newline()
			return
		case c == ' ' || c == '\t' || c == '\r':
			s.i++
			continue
		case c == '#':
			s.skipLine()
			return
		}
		// Anything else, even a lone tag or ':', is a document to the
		// parser.
		s.docContent = true
		switch {
		case (c == '-' || c == '?') && s.blankAt(s.i+1):
			s.entry(s.col(), c == '-')
			s.i++
		case c == ':' && s.blankAt(s.i+1):
			s.i++
		case c == '[' || c == '{':
			s.flowCollection()
		case c == '"' || c == '\'':
			col, start := s.col(), s.i
			s.quoted(c)
			s.scalar(col, start, s.i-start, false)
		case c == '&' || c == '*':
			s.anchor()
		case c == '!':
			s.tag()
		case c == '|' || c == '>':
			s.node()
			s.blockScalar()
			return
		default:
			col, start := s.col(), s.i
			s.plain(false)
			if s.i == start {
				s.i++ // cannot happen; but the scan must always move on
				continue
			}
			s.scalar(col, start, s.i-start, false)
		}
	}
}

// scalar counts a scalar of n bytes that started at start, in column col;
// when a ':' follows, it is a key, which starts or continues a mapping.
func (s *yamlScanner) scalar(col, start, n int, flow bool) {
	if !s.keyFollows(flow) {
		s.node()
		return
	}
	seg := keySeg(s.src[start : start+n])
	if flow {
		if len(s.flow) > 0 {
			s.flow[len(s.flow)-1].seg = seg
		}
	} else {
		s.entry(col, false)
		s.block[len(s.block)-1].seg = seg
	}
	s.node()
	s.i++ // the ':'
}

// keyFollows skips white space and reports whether a ':' value indicator
// follows. It looks past line breaks too: YAML wants a key on one line,
// but the parser takes "key\n: value" as well.
func (s *yamlScanner) keyFollows(flow bool) bool {
	j := s.i
	for j < len(s.src) && (s.src[j] == ' ' || s.src[j] == '\t' || s.src[j] == '\r' || s.src[j] == '\n') {
		j++
	}
	if j >= len(s.src) || s.src[j] != ':' {
		return false
	}
	// In flow context a key may be glued to its ':' ({"a":1}).
	if !flow && !s.blankAt(j+1) {
		return false
	}
	for ; s.i < j; s.i++ {
		if s.isBreak(s.i) {
			s.line, s.lineStart = s.line+1, s.i+1
		}
	}
	return true
}

// keySeg is what a key adds to the path of its value: ".key", or ".'key'"
// when the key holds one of the path's own characters (as the parser
// writes it).
func keySeg(key []byte) int {
	for _, c := range key {
		switch c {
		case '$', '*', '.', '[', ']':
			return len(key) + 3
		}
	}
	return len(key) + 1
}

func isFlowIndicator(c byte) bool {
	return c == ',' || c == '[' || c == ']' || c == '{' || c == '}'
}

// entry records a block sequence entry or mapping key at col: a sibling
// of the entries at that column, or the first of a new nested collection.
func (s *yamlScanner) entry(col int, seq bool) {
	for len(s.block) > 0 && s.block[len(s.block)-1].col > col {
		s.block = s.block[:len(s.block)-1]
	}
	if n := len(s.block); n > 0 && s.block[n-1].col == col {
		top := &s.block[n-1]
		switch {
		case top.seq == seq:
			if seq {
				top.idx++
				top.seg = digits(top.idx) + 2
			}
			return
		case !top.seq && seq:
			// A list may be written at its key's own indentation.
		default:
			// A key at the indentation of such a list ends the list.
			s.block = s.block[:n-1]
			if n > 1 && s.block[n-2].col == col && !s.block[n-2].seq {
				return
			}
		}
	}
	path := s.childPath()
	s.nest()
	s.node()
	l := blockLevel{col: col, seq: seq, path: path}
	if seq {
		l.seg = 3
	}
	s.block = append(s.block, l)
}

// childPath is the length of the path of the value being scanned.
func (s *yamlScanner) childPath() int {
	if n := len(s.flow); n > 0 {
		return s.flow[n-1].path + s.flow[n-1].seg
	}
	if n := len(s.block); n > 0 {
		return s.block[n-1].path + s.block[n-1].seg
	}
	return 1 // "$"
}

// nest checks that one more level of nesting is within the limit.
func (s *yamlScanner) nest() {
	if len(s.block)+len(s.flow) >= s.lim.YAMLDepth {
		s.fail("yaml_depth", "YAML nested deeper than %d levels", s.lim.YAMLDepth)
	}
}

// node counts a value and checks the length of its path.
func (s *yamlScanner) node() {
	s.nodes++
	if s.nodes > s.maxNodes {
		if s.nodesKey == "yaml_nodes" {
			s.fail("yaml_nodes", "more than %d YAML values in this file", s.lim.YAMLNodes)
		} else {
			s.fail("repository_nodes", repositoryNodesMsg, s.lim.RepositoryNodes)
		}
		return
	}
	if p := s.childPath(); p > s.lim.YAMLPathLength {
		s.fail("yaml_path_length", "the keys and list positions leading to this value are %d bytes long, more than %d", p, s.lim.YAMLPathLength)
	}
}

func (s *yamlScanner) fail(key, format string, args ...any) {
	if s.err != nil {
		return
	}
	col := utf8.RuneCount(s.src[s.tokLineStart:s.tok]) + 1
	d := limitError(diag.Position{File: s.file, Line: s.tokLine, Col: col}, s.lim, key, format, args...)
	s.err = &d
	s.i = len(s.src)
}

// anchor refuses an anchor (&name) or alias (*name) where it starts. The
// decoder refuses them too; refusing them before parsing also means an
// alias can never be expanded (the "billion laughs").
func (s *yamlScanner) anchor() {
	if s.err != nil {
		return
	}
	s.mark()
	col := utf8.RuneCount(s.src[s.lineStart:s.i]) + 1
	msg := errAnchors
	// A "*" alone is an alias with no name: almost always "every action"
	// or "every resource" written without quotes.
	if s.src[s.i] == '*' && (s.blankAt(s.i+1) || isFlowIndicator(s.src[s.i+1])) {
		msg = errUnquotedStar
	}
	s.err = &diag.Diagnostic{Pos: diag.Position{File: s.file, Line: s.line, Col: col}, Message: msg}
	s.i = len(s.src)
}

const (
	errAnchors      = "YAML anchors, aliases and merge keys are not supported in identity files: write the value out, so each object reads on its own"
	errUnquotedStar = `unquoted *: YAML reads * as an alias (a reference to an &anchor), not as text; quote it: "*"`
)

// tag skips a tag such as !!str or !<tag:yaml.org,2002:str>.
func (s *yamlScanner) tag() {
	for s.i < len(s.src) && !s.blankAt(s.i) && (len(s.flow) == 0 || !isFlowIndicator(s.src[s.i])) {
		s.i++
	}
}

// quoted skips a single- or double-quoted scalar, which may span lines.
func (s *yamlScanner) quoted(q byte) {
	s.i++
	for s.i < len(s.src) {
		c := s.src[s.i]
		switch {
		case s.isBreak(s.i):
			s.newline()
			continue
		case q == '"' && c == '\\':
			s.i++
			if s.i < len(s.src) && s.isBreak(s.i) {
				s.newline()
				continue
			}
		case c == q && q == '\'' && s.i+1 < len(s.src) && s.src[s.i+1] == '\'':
			s.i++
		case c == q:
			s.i++
			return
		}
		s.i++
	}
}

// plain skips a plain scalar up to a ": ", " #", the end of the line or, in
// flow context, a flow indicator.
func (s *yamlScanner) plain(flow bool) {
	for s.i < len(s.src) {
		c := s.src[s.i]
		switch {
		case s.isBreak(s.i):
			return
		case c == ':' && (s.blankAt(s.i+1) || flow && s.i+1 < len(s.src) && isFlowIndicator(s.src[s.i+1])):
			return
		case c == '#' && s.i > 0 && (s.src[s.i-1] == ' ' || s.src[s.i-1] == '\t'):
			return
		case flow && isFlowIndicator(c):
			return
		}
		s.i++
	}
}

// blockScalar skips a literal (|) or folded (>) scalar: the rest of its
// header line, then its content, as YAML delimits it: blank lines, and
// lines indented at least as much as the first line that is not blank
// (or as the header's indentation indicator says), which must be more than
// the collection the scalar belongs to. Reading a line as content that the
// parser reads as structure would let that structure past the scan; the
// converse only counts more than there is.
func (s *yamlScanner) blockScalar() {
	parent := -1
	if n := len(s.block); n > 0 {
		parent = s.block[n-1].col
	}
	indent := -1
	for j := s.i + 1; j < len(s.src) && !s.blankAt(j) && s.src[j] != '#'; j++ {
		if c := s.src[j]; c >= '1' && c <= '9' {
			indent = max(parent, 0) + int(c-'0')
		}
	}
	s.skipLine()
	for s.i < len(s.src) {
		if s.marker("---") || s.marker("...") {
			return
		}
		j := s.i
		for j < len(s.src) && s.src[j] == ' ' {
			j++
		}
		if j < len(s.src) && !s.isBreak(j) && !(s.src[j] == '\r' && j+1 < len(s.src) && s.src[j+1] == '\n') {
			if indent < 0 {
				indent = j - s.i
			}
			if j-s.i <= parent || j-s.i < indent {
				return
			}
		}
		s.skipLine()
	}
}

// flowCollection scans a [ ] or { } collection to its end, across lines.
func (s *yamlScanner) flowCollection() {
	s.openFlow()
	for s.i < len(s.src) && len(s.flow) > 0 && s.err == nil {
		c := s.src[s.i]
		s.mark()
		top := &s.flow[len(s.flow)-1]
		switch {
		case s.isBreak(s.i):
			s.newline()
		case c == ' ' || c == '\t' || c == '\r':
			s.i++
		case c == '#' && s.blankAt(s.i-1):
			for s.i < len(s.src) && !s.isBreak(s.i) {
				s.i++
			}
		case c == '[' || c == '{':
			s.openFlow()
		case c == ']' || c == '}':
			s.flow = s.flow[:len(s.flow)-1]
			s.i++
		case c == ',':
			top.idx++
			if top.seq {
				top.seg = digits(top.idx) + 2
			} else {
				top.seg = 0
			}
			s.i++
		case c == '"' || c == '\'':
			start := s.i
			s.quoted(c)
			s.scalar(0, start, s.i-start, true)
		case c == '&' || c == '*':
			s.anchor()
		case c == '!':
			s.tag()
		case (c == ':' || c == '?') && (s.blankAt(s.i+1) || s.i+1 < len(s.src) && isFlowIndicator(s.src[s.i+1])):
			s.i++
		default:
			start := s.i
			s.plain(true)
			if s.i == start {
				// A ':' glued to the next value ("{a:b}" is one plain
				// scalar, but "[a :b]" is not); step over it.
				s.i++
				continue
			}
			s.scalar(0, start, s.i-start, true)
		}
	}
}

func (s *yamlScanner) openFlow() {
	seq := s.src[s.i] == '['
	path := s.childPath()
	s.nest()
	s.node()
	l := flowLevel{seq: seq, path: path}
	if seq {
		l.seg = 3
	}
	s.flow = append(s.flow, l)
	s.i++
}

// digits is the length of n written in decimal.
func digits(n int) int {
	d := 1
	for ; n >= 10; n /= 10 {
		d++
	}
	return d
}
