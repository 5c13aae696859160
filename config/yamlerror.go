package config

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// YAML syntax errors. yaml.v3 reports them as text, "yaml: line N: message", without a column.
// Its parser numbers lines from 0 (parserProblems). Its scanner numbers them from 1, but N is the
// line of the construct the problem is in (the quoted string, the plain scalar), not of the
// problem; and when that construct starts on line 1, which it leaves out as it does line 0, N is the
// problem's line instead. syntax works out from the source what it can: the construct's line, and,
// for the problems it can find there, the line and column of the problem itself.

// syntax records the YAML syntax error err of data.
func (s *source) syntax(err error, data []byte) {
	msg, line := splitYAMLError(err)
	if parserProblems[msg] {
		s.problemAt(position{line: line + 1}, "", "invalid YAML: %s", msg)
		return
	}
	construct, ok := constructLine(data, msg)
	if !ok { // not the scanner's: an unknown anchor, say, which yaml.v3 gives no line for
		s.problemAt(position{line: line}, "", "invalid YAML: %s", msg)
		return
	}
	switch msg {
	case "found a tab character that violates indentation", "found a tab character where an indentation space is expected":
		// In the indentation of a line after the construct's first: a plain scalar or a block
		// scalar, going on over lines.
		if pos, ok := indentingTab(data, err, construct+1); ok {
			s.problemAt(pos, "", "invalid YAML: %s", msg)
			return
		}
		s.problemAt(position{line: construct}, "", "invalid YAML: %s, in a line of the value that starts here", msg)
	case "found character that cannot start any token":
		if pos, ok := indentingTab(data, err, construct); ok && pos.line == construct {
			s.problemAt(pos, "", "invalid YAML: %s: a tab (YAML indents with spaces)", msg)
			return
		}
		s.problemAt(position{line: construct}, "", "invalid YAML: %s", msg)
	case "found unexpected end of stream": // in a quoted scalar, the only construct it ends early
		if pos, ok := unclosedQuote(data, construct); ok {
			s.problemAt(pos, "", "invalid YAML: %s: the quoted string that starts here is not closed", msg)
			return
		}
		s.problemAt(position{line: construct}, "", "invalid YAML: %s: a quoted string that starts on this line is not closed", msg)
	default:
		s.problemAt(position{line: construct}, "", "invalid YAML: %s", msg)
	}
}

// parserProblems are the messages of yaml.v3's parser, as opposed to its
// scanner. It numbers the lines of parser errors from 0, not 1, and
// leaves out line 0; the syntax error golden test notices if that
// changes.
var parserProblems = map[string]bool{
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected <document start>": true,
	"did not find expected <stream-start>":   true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"found duplicate %TAG directive":         true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

// splitYAMLError returns the message of a yaml.v3 error and the line it names (0: none).
func splitYAMLError(err error) (msg string, line int) {
	if err == nil {
		return "", 0
	}
	msg = strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, after, ok := strings.Cut(rest, ": "); ok {
			if l, err := strconv.Atoi(n); err == nil {
				return after, l
			}
		}
	}
	return msg, 0
}

// utf8BOM is UTF-8's byte order mark, which a YAML stream may start with.
const utf8BOM = "\xef\xbb\xbf"

// firstError is the first error decoding data's documents, as Parse decodes them, or nil.
func firstError(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// constructLine returns the line of the construct that the scanner's error msg of data is in. With
// a line added in front none starts on line 1, so yaml.v3 names the construct's line (plus one) for
// every error of its scanner: false when it names none (not the scanner's error), or when data is
// UTF-16, which a line cannot be added to as bytes.
func constructLine(data []byte, msg string) (int, bool) {
	text, hasBOM := bytes.CutPrefix(data, []byte(utf8BOM))
	shifted := make([]byte, 0, len(data)+1)
	if hasBOM { // it stays in front
		shifted = append(shifted, utf8BOM...)
	}
	shifted = append(append(shifted, '\n'), text...)
	m, line := splitYAMLError(firstError(shifted))
	if m != msg || line < 2 {
		return 0, false
	}
	return line - 1, true
}

// indentingTab finds the tab that yaml.v3's error err of data is about: the first tab in the
// indentation (the blanks a line starts with) of line from or a later one that, made a space,
// changes the error (a tab the scanner accepted, deeper than the indentation it counts, does not).
// It tries maxTabs tabs at most.
func indentingTab(data []byte, err error, from int) (position, bool) {
	const maxTabs = 16
	line, start, tried := 1, 0, 0
	for start < len(data) && tried < maxTabs {
		end := bytes.IndexByte(data[start:], '\n')
		if end < 0 {
			end = len(data)
		} else {
			end += start
		}
		if line >= from {
			indent := len(data[start:end]) - len(bytes.TrimLeft(data[start:end], " \t"))
			if tab := bytes.IndexByte(data[start:start+indent], '\t'); tab >= 0 {
				spaced := slices.Clone(data)
				spaced[start+tab] = ' '
				if e := firstError(spaced); e == nil || e.Error() != err.Error() {
					return position{line, tab + 1}, true
				}
				tried++
			}
		}
		line, start = line+1, end+1
	}
	return position{}, false
}

// unclosedQuote finds the opening quote of the quoted string that data ends in, which starts on
// line construct. A quote of its kind added at the end must close it: the error changes.
func unclosedQuote(data []byte, construct int) (position, bool) {
	for _, q := range []byte{'"', '\''} {
		if m, _ := splitYAMLError(firstError(append(slices.Clip(data), q))); m == "found unexpected end of stream" {
			continue // not this kind of string
		}
		off := openingQuote(data, q)
		if off < 0 {
			return position{}, false
		}
		pos := positionOf(data, off)
		return pos, pos.line == construct
	}
	return position{}, false
}

// openingQuote is the offset of the quote q opening a string that runs to the end of data, or -1.
// Such a string holds no quote of its kind but escaped ones: in double quotes after an odd number
// of backslashes, in single quotes doubled.
func openingQuote(data []byte, q byte) int {
	for i := len(data) - 1; i >= 0; i-- {
		if data[i] != q {
			continue
		}
		run := i // the run of quotes (single) or backslashes (double) before this quote
		if q == '"' {
			for run > 0 && data[run-1] == '\\' {
				run--
			}
			if (i-run)%2 == 0 {
				return i
			}
			continue
		}
		for run > 0 && data[run-1] == q {
			run--
		}
		if (i-run+1)%2 == 1 {
			return run
		}
		i = run
	}
	return -1
}

// positionOf is the line and column (in characters, a byte order mark not counted) of data[off].
func positionOf(data []byte, off int) position {
	lineStart := bytes.LastIndexByte(data[:off], '\n') + 1
	text := bytes.TrimPrefix(data[lineStart:off], []byte(utf8BOM))
	return position{bytes.Count(data[:off], []byte("\n")) + 1, utf8.RuneCount(text) + 1}
}
