package outbound

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParsePatternErrors(t *testing.T) {
	for _, tc := range []struct{ entry, want string }{
		{"api.example.com", `must start with http:// or https://, like "https://api.example.com"`},
		{"ftp://files.example.com", `has scheme "ftp"; only "http" and "https" are reachable`},
		{"https://api.example.com/v1", `names a path or query ("/v1"); list only scheme://host[:port], like "https://api.example.com"`},
		{"https://api.example.com?x=1", `names a path or query`},
		{"https://user@api.example.com", `has user info`},
		{"https://", `has no host`},
		{"https://:443", `has no host`},
		{"https://api.example.com:", `has an empty port`},
		{"https://api.example.com:0", `has port "0"; use a number from 1 to 65535`},
		{"https://api.example.com:70000", `has port "70000"`},
		{"https://api.example.com:http", `has port "http"`},
		{"https://api.example.com:+1", `has port "+1"`},
		{"https://api.*.com", `has a wildcard inside a name`},
		{"https://*api.com", `has a wildcard inside a name`},
		{"https://*.*.example.org", `has an invalid host name "*.example.org"`},
		{"https://exa mple.com", `' ' is not allowed`},
		{"https://-bad.example.com", `may not start or end with "-"`},
		{"https://a..b", `each dot-separated part needs 1 to 63 characters`},
		{"http://::1", `put the IPv6 address in brackets: "http://[::1]"`},
		{"http://[::1", `unclosed "["`},
		{"http://[example.com]", `not an IPv6 address`},
		{"http://[127.0.0.1]", `not an IPv6 address`},
		{"http://[fe80::1%eth0]", `not an IPv6 address`},
		{"http://[::1]x", `after the IPv6 address`},
		{"http://a:b:c", `more than one ":"`},
	} {
		_, err := ParsePattern(tc.entry)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParsePattern(%q) = %v, want an error containing %q", tc.entry, err, tc.want)
		}
	}
}

func TestParsePatternValid(t *testing.T) {
	for _, entry := range []string{
		"https://api.example.com", "https://api.example.com/", "HTTPS://API.Example.COM.",
		"http://127.0.0.1:8080", "http://[::1]:8080", "http://[2001:db8::1]",
		"https://*.example.org", "https://*", "http://*:*", "http://localhost:*",
		"https://under_score.example.com",
	} {
		if _, err := ParsePattern(entry); err != nil {
			t.Errorf("ParsePattern(%q): %v", entry, err)
		}
	}
}

func TestAllows(t *testing.T) {
	list, err := ParseAllowList([]string{
		"https://api.example.com",
		"http://127.0.0.1:8080",
		"https://*.example.org",
		"http://[::1]:9090",
		"http://10.1.2.3:*",
		"http://localhost:3000",
		"https://*:8443",
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		scheme, host, port string
		want               bool
	}{
		{"https", "api.example.com", "", true},
		{"https", "api.example.com", "443", true},
		{"https", "API.EXAMPLE.COM.", "", true},
		{"http", "api.example.com", "", false},      // scheme
		{"https", "api.example.com", "8443", true},  // the "*:8443" entry
		{"https", "api.example.com", "444", false},  // port
		{"https", "other.example.com", "", false},   // host
		{"https", "evilapi.example.com", "", false}, // not a suffix match
		{"https", "a.example.org", "", true},        // wildcard
		{"https", "a.b.example.org", "", true},      // wildcard, any depth
		{"https", "example.org", "", false},         // the wildcard is below the name
		{"https", "badexample.org", "", false},      // label boundary
		{"http", "a.example.org", "", false},        // scheme
		{"http", "127.0.0.1", "8080", true},         // literal
		{"http", "127.0.0.1", "8081", false},        // literal, other port
		{"http", "127.0.0.1", "", false},            // literal, default port
		{"http", "127.0.0.2", "8080", false},        // other loopback address
		{"https", "127.0.0.1", "8443", false},       // loopback: "*" does not unlock it
		{"https", "10.9.9.9", "8443", false},        // private: "*" does not unlock it
		{"https", "169.254.169.254", "8443", false},
		{"https", "::1", "8443", false},
		{"https", "[::1]", "8443", false}, // not a host name
		{"https", "a b", "8443", false},
		{"http", "::1", "9090", true},                    // IPv6 literal
		{"http", "0:0:0:0:0:0:0:1", "9090", true},        // spelt long
		{"http", "::ffff:127.0.0.1", "8080", true},       // IPv4-mapped
		{"http", "10.1.2.3", "1234", true},               // private literal, any port
		{"http", "localhost", "3000", true},              // named explicitly
		{"http", "LOCALHOST.", "3000", true},             //
		{"https", "localhost", "8443", false},            // "*" does not unlock localhost
		{"https", "8.8.8.8", "8443", true},               // "*" matches public literals
		{"https", "8.8.8.8", "", false},                  // port
		{"https", "a.example.org", "99999999999", false}, // bad port
	} {
		if got := list.Allows(tc.scheme, tc.host, tc.port); got != tc.want {
			t.Errorf("Allows(%q, %q, %q) = %v, want %v", tc.scheme, tc.host, tc.port, got, tc.want)
		}
	}
	if (AllowList{}).Allows("https", "api.example.com", "") {
		t.Error("an empty list allows something")
	}
}

func TestDialAllowed(t *testing.T) {
	for _, tc := range []struct {
		host, ip string
		want     bool
	}{
		{"api.example.com", "93.184.216.34", true},
		{"api.example.com", "2606:2800:220:1:248:1893:25c8:1946", true},
		{"api.example.com", "127.0.0.1", false}, // rebinding to loopback
		{"api.example.com", "::1", false},
		{"api.example.com", "10.0.0.1", false},
		{"api.example.com", "172.16.0.1", false},
		{"api.example.com", "192.168.1.1", false},
		{"api.example.com", "169.254.169.254", false}, // cloud metadata
		{"api.example.com", "fe80::1", false},
		{"api.example.com", "fc00::1", false},
		{"api.example.com", "0.0.0.0", false},
		{"api.example.com", "::", false},
		{"api.example.com", "100.64.0.1", false},
		{"api.example.com", "224.0.0.1", false},
		{"api.example.com", "255.255.255.255", false},
		{"api.example.com", "::ffff:127.0.0.1", false}, // mapped loopback
		{"api.example.com", "64:ff9b::a00:1", false},   // NAT64 of 10.0.0.1
		{"api.example.com", "2002:a00:1::", false},     // 6to4 of 10.0.0.1
		{"127.0.0.1", "127.0.0.1", true},               // the URL named it
		{"127.0.0.1", "::ffff:127.0.0.1", true},
		{"::1", "::1", true},
		{"127.0.0.1", "127.0.0.2", false},
		{"localhost", "127.0.0.1", true},
		{"localhost", "::1", true},
		{"localhost.", "127.0.0.1", true},
		{"localhost", "10.0.0.1", false}, // only loopback for localhost
		{"foo.localhost", "127.0.0.1", false},
	} {
		if got := dialAllowed(tc.host, netip.MustParseAddr(tc.ip)); got != tc.want {
			t.Errorf("dialAllowed(%q, %s) = %v, want %v", tc.host, tc.ip, got, tc.want)
		}
	}
}

func FuzzParsePattern(f *testing.F) {
	for _, s := range []string{"https://api.example.com", "http://[::1]:8080", "https://*.example.org", "http://*:*", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePattern(s)
		if err != nil {
			return
		}
		// Whatever parses must match itself, unless it is a wildcard.
		if p.any || p.suffix != "" || p.port == 0 {
			return
		}
		host := p.host
		if p.ip.IsValid() {
			host = p.ip.String()
		}
		l := AllowList{p}
		if !l.Allows(p.scheme, host, "") && !l.Allows(p.scheme, host, itoa(p.port)) {
			t.Errorf("%q does not allow its own host %q port %d", s, host, p.port)
		}
	})
}

func itoa(n int) string {
	return netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(n)).String()[len("0.0.0.0:"):]
}
