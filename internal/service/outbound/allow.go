package outbound

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Pattern is one entry of a function's allowed_hosts:
// scheme://host[:port], where host is a DNS name, "*.suffix" (any name
// below suffix), "*" (any host) or an IP literal ("[::1]" for IPv6), and
// port is a number or "*"; no port means the scheme's (80, 443).
type Pattern struct {
	raw    string
	scheme string     // "http" or "https"
	host   string     // lowercase name without a trailing dot; "" when ip or any
	suffix string     // for "*.example.org": ".example.org"
	any    bool       // host "*"
	ip     netip.Addr // an IP literal host
	port   int        // 0 for "*"
}

// String returns the entry as written.
func (p Pattern) String() string { return p.raw }

// ParsePattern parses one allowed_hosts entry. Its errors are sentences
// that say what to write instead, for config diagnostics.
func ParsePattern(s string) (Pattern, error) {
	p := Pattern{raw: s}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return p, fmt.Errorf("must start with http:// or https://, like \"https://%s\"", strings.TrimLeft(s, "/:"))
	}
	p.scheme = strings.ToLower(scheme)
	if p.scheme != "http" && p.scheme != "https" {
		return p, fmt.Errorf("has scheme %q; only \"http\" and \"https\" are reachable", scheme)
	}
	rest = strings.TrimSuffix(rest, "/")
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		return p, fmt.Errorf("names a path or query (%q); list only scheme://host[:port], like %q", rest[i:], p.scheme+"://"+rest[:i])
	}
	if strings.Contains(rest, "@") {
		return p, fmt.Errorf("has user info; list only scheme://host[:port]")
	}
	host, port, err := splitHostPort(rest)
	if err != nil {
		return p, err
	}
	if p.port, err = parsePort(port, p.scheme); err != nil {
		return p, err
	}
	switch host = normalizeHost(host); {
	case host == "":
		return p, fmt.Errorf("has no host")
	case host == "*":
		p.any = true
	case strings.HasPrefix(host, "*."):
		p.suffix = host[1:]
		if err := checkName(host[2:]); err != nil {
			return p, err
		}
	case strings.HasPrefix(rest, "["):
		ip, err := netip.ParseAddr(host)
		if err != nil || !ip.Is6() || ip.Zone() != "" {
			return p, fmt.Errorf("has %q in brackets, which is not an IPv6 address", host)
		}
		p.ip = ip
	default:
		if ip, err := netip.ParseAddr(host); err == nil {
			if ip.Is6() {
				return p, fmt.Errorf("put the IPv6 address in brackets: %q", p.scheme+"://["+host+"]")
			}
			p.ip = ip
			break
		}
		if strings.Contains(host, "*") {
			return p, fmt.Errorf("has a wildcard inside a name; a wildcard is a whole first label (\"*.example.org\") or the whole host (\"*\")")
		}
		if err := checkName(host); err != nil {
			return p, err
		}
		p.host = host
	}
	return p, nil
}

// splitHostPort splits "host", "host:port", "[v6]" or "[v6]:port".
func splitHostPort(s string) (host, port string, err error) {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", fmt.Errorf("has an unclosed \"[\"")
		}
		host, rest := s[1:end], s[end+1:]
		if rest == "" {
			return host, "", nil
		}
		if !strings.HasPrefix(rest, ":") {
			return "", "", fmt.Errorf("has %q after the IPv6 address; write [ADDRESS]:PORT", rest)
		}
		return host, rest[1:], nil
	}
	if strings.Count(s, ":") > 1 {
		if ip, err := netip.ParseAddr(s); err == nil && ip.Is6() {
			return s, "", nil // reported by the caller, with the brackets it needs
		}
		return "", "", fmt.Errorf("has more than one \":\"")
	}
	host, port, _ = strings.Cut(s, ":")
	if strings.HasSuffix(s, ":") {
		return "", "", fmt.Errorf("has an empty port; write a number, \"*\" for any port, or nothing for the scheme's")
	}
	return host, port, nil
}

// parsePort reads a pattern's port: "" is the scheme's, "*" any (0).
func parsePort(port, scheme string) (int, error) {
	switch port {
	case "":
		return defaultPort(scheme), nil
	case "*":
		return 0, nil
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 || port[0] == '+' {
		return 0, fmt.Errorf("has port %q; use a number from 1 to 65535, or \"*\" for any port", port)
	}
	return n, nil
}

func defaultPort(scheme string) int {
	if scheme == "https" {
		return 443
	}
	return 80
}

// normalizeHost lowercases a host and drops a trailing dot, so "API.example.com."
// and "api.example.com" are the same host.
func normalizeHost(h string) string {
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// checkName reports a host name that DNS could not hold.
func checkName(name string) error {
	if len(name) > 253 {
		return fmt.Errorf("has a host name longer than 253 characters")
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("has an invalid host name %q: each dot-separated part needs 1 to 63 characters", name)
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("has an invalid host name %q: a part may not start or end with \"-\"", name)
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("has an invalid host name %q: %q is not allowed; use letters, digits, \"-\" and \".\"", name, c)
			}
		}
	}
	return nil
}

// AllowList is a function's parsed allowed_hosts.
type AllowList []Pattern

// ParseAllowList parses every entry, failing at the first bad one.
func ParseAllowList(entries []string) (AllowList, error) {
	list := make(AllowList, 0, len(entries))
	for _, e := range entries {
		p, err := ParsePattern(e)
		if err != nil {
			return nil, fmt.Errorf("allowed_hosts entry %q %v", e, err)
		}
		list = append(list, p)
	}
	return list, nil
}

// Allows reports whether a request to scheme://host:port may be made.
// host is as in a URL (no brackets); port "" is the scheme's.
//
// Wildcards never unlock what is not on the public internet: a host that is
// an IP literal outside it (loopback, private, link-local, ...) is allowed
// only by an entry naming that very address, and "localhost" only by an
// entry naming "localhost". Names are checked again after DNS resolution,
// when dialing (see dialAllowed).
func (l AllowList) Allows(scheme, host, port string) bool {
	scheme, host = strings.ToLower(scheme), normalizeHost(host)
	p, err := strconv.Atoi(port)
	if port == "" {
		p, err = defaultPort(scheme), nil
	}
	if err != nil {
		return false
	}
	ip, ipErr := netip.ParseAddr(host)
	isIP := ipErr == nil
	if !isIP && checkName(host) != nil {
		return false // not a host: "[::1]", "a b"
	}
	literalOnly := isIP && !isPublic(ip) || host == "localhost"
	for _, pat := range l {
		if pat.scheme != scheme || pat.port != 0 && pat.port != p {
			continue
		}
		switch {
		case pat.ip.IsValid():
			if isIP && pat.ip.Unmap() == ip.Unmap() && ip.Zone() == "" {
				return true
			}
		case pat.host != "":
			if pat.host == host {
				return true
			}
		case literalOnly, isIP && !pat.any:
		case pat.any:
			return true
		case pat.suffix != "":
			if strings.HasSuffix(host, pat.suffix) {
				return true
			}
		}
	}
	return false
}

// nonPublic are the ranges, besides those netip's predicates name, that
// are not on the public internet: shared (CGNAT), IETF, documentation,
// benchmarking and reserved ranges, and IPv6 prefixes that embed IPv4
// addresses (NAT64, 6to4, Teredo), which could smuggle a private one.
var nonPublic = func() []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24",
		"198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4",
		"64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/23",
		"2001:db8::/32", "2002::/16", "fec0::/10",
	} {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}()

// isPublic reports whether ip is a unicast address on the public internet.
func isPublic(ip netip.Addr) bool {
	ip = ip.Unmap()
	if ip.Zone() != "" || !ip.IsGlobalUnicast() || ip.IsPrivate() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// dialAllowed reports whether a connection for a URL naming host may go to
// ip, which host resolved to. Public addresses are always fine (the allow
// list was checked before); others only when the URL named the address
// itself or, for loopback, "localhost" (which Allows admits only through an
// entry naming them). This is what stops DNS rebinding: a name under an
// allowed wildcard that resolves to 127.0.0.1 or 169.254.169.254 is refused
// at the moment of connecting, on the very address connected to.
//
// The decision depends only on the URL's host and the address, never on
// which function asked, so pooled connections are safe to share.
func dialAllowed(host string, ip netip.Addr) bool {
	if isPublic(ip) {
		return true
	}
	host = normalizeHost(host)
	if lit, err := netip.ParseAddr(host); err == nil {
		return lit.Zone() == "" && lit.Unmap() == ip.Unmap()
	}
	return host == "localhost" && ip.Unmap().IsLoopback()
}

// addressKind names the kind of a non-public address, for messages.
func addressKind(ip netip.Addr) string {
	ip = ip.Unmap()
	switch {
	case ip.IsLoopback():
		return "loopback"
	case ip.IsPrivate():
		return "private"
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		return "link-local"
	case ip.IsUnspecified():
		return "unspecified"
	case ip.IsMulticast():
		return "multicast"
	}
	return "non-public"
}
