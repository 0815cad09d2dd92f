package tableformat

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Position is a place in the source's binlog: the GTID set executed up to it
// and the binlog file and offset just after it. A position in the log always
// names the end of a whole transaction, so resuming from it replays nothing
// twice and skips nothing.
type Position struct {
	GTIDSet string `json:"gtid_set,omitempty"`
	File    string `json:"file,omitempty"`
	Pos     uint64 `json:"pos,omitempty"`
}

// IsZero reports whether p names no position.
func (p Position) IsZero() bool { return p.GTIDSet == "" && p.File == "" && p.Pos == 0 }

// FilePos renders the binlog coordinates as FILE:POS.
func (p Position) FilePos() string {
	if p.File == "" {
		return ""
	}
	return p.File + ":" + strconv.FormatUint(p.Pos, 10)
}

func (p Position) String() string {
	switch {
	case p.GTIDSet != "" && p.File != "":
		return p.GTIDSet + " (" + p.FilePos() + ")"
	case p.GTIDSet != "":
		return p.GTIDSet
	default:
		return p.FilePos()
	}
}

// ParseFilePos parses FILE:POS as printed by SHOW MASTER STATUS or mysqlbinlog.
func ParseFilePos(s string) (file string, pos uint64, err error) {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 || i == len(s)-1 {
		return "", 0, fmt.Errorf("binlog position %q: want FILE:POS, for example mysql-bin.000003:1234", s)
	}
	file = s[:i]
	pos, err = strconv.ParseUint(s[i+1:], 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("binlog position %q: offset is not a number", s)
	}
	if _, err := binlogIndex(file); err != nil {
		return "", 0, fmt.Errorf("binlog position %q: %w", s, err)
	}
	return file, pos, nil
}

// binlogIndex returns the numeric suffix of a binlog file name (mysql-bin.000042 → 42).
func binlogIndex(file string) (uint64, error) {
	i := strings.LastIndexByte(file, '.')
	if i < 0 || i == len(file)-1 {
		return 0, fmt.Errorf("binlog file name %q has no numeric suffix", file)
	}
	n, err := strconv.ParseUint(file[i+1:], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("binlog file name %q has no numeric suffix", file)
	}
	return n, nil
}

// CompareFilePos orders two binlog coordinates of the same server: by the
// file's numeric suffix, then by offset. Files of different base names are an
// error (they belong to different servers or a renamed log).
func CompareFilePos(aFile string, aPos uint64, bFile string, bPos uint64) (int, error) {
	ai, err := binlogIndex(aFile)
	if err != nil {
		return 0, err
	}
	bi, err := binlogIndex(bFile)
	if err != nil {
		return 0, err
	}
	if base(aFile) != base(bFile) {
		return 0, fmt.Errorf("binlog files %q and %q belong to different logs", aFile, bFile)
	}
	if c := cmp.Compare(ai, bi); c != 0 {
		return c, nil
	}
	return cmp.Compare(aPos, bPos), nil
}

func base(file string) string { return file[:strings.LastIndexByte(file, '.')] }

// GTIDSet is a parsed set of transaction identifiers in either flavour:
// MariaDB (domain-server-seq, one per domain, meaning every transaction of
// that domain up to seq) or MySQL (uuid:interval[:interval…], meaning exactly
// those transactions).
type GTIDSet struct {
	mariadb map[uint32]mariaGTID      // domain → last GTID of that domain
	mysql   map[string][]gtidInterval // source uuid (lower case) → sorted disjoint intervals
}

type mariaGTID struct {
	server uint32
	seq    uint64
}

type gtidInterval struct{ lo, hi uint64 } // inclusive

// ErrGTIDFlavour is returned when two GTID sets of different flavours meet.
var ErrGTIDFlavour = errors.New("gtid sets of different flavours (MariaDB and MySQL)")

// ParseGTIDSet parses a MariaDB ("0-1-46,1-2-7") or MySQL
// ("3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5:7") GTID set. The empty string is
// the empty set.
func ParseGTIDSet(s string) (GTIDSet, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return GTIDSet{}, nil
	}
	if strings.Contains(s, ":") {
		return parseMySQLSet(s)
	}
	return parseMariaSet(s)
}

func parseMariaSet(s string) (GTIDSet, error) {
	set := GTIDSet{mariadb: map[uint32]mariaGTID{}}
	for part := range strings.SplitSeq(s, ",") {
		d, sv, n, err := parseMariaGTID(strings.TrimSpace(part))
		if err != nil {
			return GTIDSet{}, fmt.Errorf("gtid set %q: %w", s, err)
		}
		if _, dup := set.mariadb[d]; dup {
			return GTIDSet{}, fmt.Errorf("gtid set %q: domain %d appears twice", s, d)
		}
		set.mariadb[d] = mariaGTID{server: sv, seq: n}
	}
	return set, nil
}

func parseMariaGTID(s string) (domain, server uint32, seq uint64, err error) {
	f := strings.Split(s, "-")
	if len(f) != 3 {
		return 0, 0, 0, fmt.Errorf("%q is not a MariaDB GTID (domain-server-sequence, e.g. 0-1-46)", s)
	}
	d, err1 := strconv.ParseUint(f[0], 10, 32)
	sv, err2 := strconv.ParseUint(f[1], 10, 32)
	n, err3 := strconv.ParseUint(f[2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, 0, 0, fmt.Errorf("%q is not a MariaDB GTID (domain-server-sequence, e.g. 0-1-46)", s)
	}
	return uint32(d), uint32(sv), n, nil
}

func parseMySQLSet(s string) (GTIDSet, error) {
	set := GTIDSet{mysql: map[string][]gtidInterval{}}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		f := strings.Split(part, ":")
		if len(f) < 2 || !isUUID(f[0]) {
			return GTIDSet{}, fmt.Errorf("gtid set %q: %q is not uuid:interval[:interval…]", s, part)
		}
		id := strings.ToLower(f[0])
		for _, iv := range f[1:] {
			lo, hi, ok := strings.Cut(iv, "-")
			a, err := strconv.ParseUint(lo, 10, 64)
			b := a
			if ok && err == nil {
				b, err = strconv.ParseUint(hi, 10, 64)
			}
			if err != nil || a == 0 || b < a {
				return GTIDSet{}, fmt.Errorf("gtid set %q: bad interval %q", s, iv)
			}
			set.mysql[id] = append(set.mysql[id], gtidInterval{a, b})
		}
		set.mysql[id] = normalizeIntervals(set.mysql[id])
	}
	return set, nil
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return false
			}
		}
	}
	return true
}

func normalizeIntervals(iv []gtidInterval) []gtidInterval {
	slices.SortFunc(iv, func(a, b gtidInterval) int { return cmp.Compare(a.lo, b.lo) })
	out := iv[:0]
	for _, x := range iv {
		if n := len(out); n > 0 && x.lo <= out[n-1].hi+1 {
			out[n-1].hi = max(out[n-1].hi, x.hi)
			continue
		}
		out = append(out, x)
	}
	return out
}

// IsEmpty reports whether the set holds no transaction.
func (g GTIDSet) IsEmpty() bool { return len(g.mariadb) == 0 && len(g.mysql) == 0 }

// ContainsSet reports whether every transaction of o is in g. For MariaDB
// sets, a domain's position covers every earlier transaction of that domain.
func (g GTIDSet) ContainsSet(o GTIDSet) (bool, error) {
	if o.IsEmpty() {
		return true, nil
	}
	if g.IsEmpty() {
		return false, nil
	}
	if (g.mariadb != nil) != (o.mariadb != nil) {
		return false, ErrGTIDFlavour
	}
	for d, x := range o.mariadb {
		y, ok := g.mariadb[d]
		if !ok || y.seq < x.seq {
			return false, nil
		}
	}
	for id, ivs := range o.mysql {
		have := g.mysql[id]
		for _, x := range ivs {
			if !coveredBy(x, have) {
				return false, nil
			}
		}
	}
	return true, nil
}

// ContainsGTID reports whether the single transaction gtid is in g.
func (g GTIDSet) ContainsGTID(gtid string) (bool, error) {
	one, err := ParseGTIDSet(gtid)
	if err != nil {
		return false, err
	}
	if one.mysql != nil {
		for _, ivs := range one.mysql {
			if len(ivs) != 1 || ivs[0].lo != ivs[0].hi {
				return false, fmt.Errorf("%q is not a single GTID", gtid)
			}
		}
	}
	if len(one.mariadb)+len(one.mysql) != 1 {
		return false, fmt.Errorf("%q is not a single GTID", gtid)
	}
	return g.ContainsSet(one)
}

func coveredBy(x gtidInterval, ivs []gtidInterval) bool {
	i, _ := slices.BinarySearchFunc(ivs, x.lo, func(iv gtidInterval, lo uint64) int {
		if iv.hi < lo {
			return -1
		}
		if iv.lo > lo {
			return 1
		}
		return 0
	})
	return i < len(ivs) && ivs[i].lo <= x.lo && x.hi <= ivs[i].hi
}

// String renders the set canonically (domains and uuids sorted).
func (g GTIDSet) String() string {
	var parts []string
	if g.mariadb != nil {
		ds := make([]uint32, 0, len(g.mariadb))
		for d := range g.mariadb {
			ds = append(ds, d)
		}
		slices.Sort(ds)
		for _, d := range ds {
			x := g.mariadb[d]
			parts = append(parts, fmt.Sprintf("%d-%d-%d", d, x.server, x.seq))
		}
	}
	ids := make([]string, 0, len(g.mysql))
	for id := range g.mysql {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		var b strings.Builder
		b.WriteString(id)
		for _, iv := range g.mysql[id] {
			if iv.lo == iv.hi {
				fmt.Fprintf(&b, ":%d", iv.lo)
			} else {
				fmt.Fprintf(&b, ":%d-%d", iv.lo, iv.hi)
			}
		}
		parts = append(parts, b.String())
	}
	return strings.Join(parts, ",")
}
