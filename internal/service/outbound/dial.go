package outbound

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Resolver looks up the addresses of a host name. *net.Resolver is one;
// tests substitute theirs to play DNS rebinding.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// AddressError is the dial error for a host whose every address is one
// the function may not reach.
type AddressError struct {
	Host  string
	Addrs []netip.Addr
}

func (e *AddressError) Error() string {
	ip := e.Addrs[0]
	return fmt.Sprintf("%s resolves to %s, a %s address; only an allowed_hosts entry naming the address itself (like \"http://%s\") reaches loopback, private and link-local addresses",
		e.Host, ip, addressKind(ip), netip.AddrPortFrom(ip, 8080))
}

// dialer resolves the host itself and connects only to addresses that
// dialAllowed admits. Resolving here, rather than letting net.Dialer do it,
// is what makes the check hold: the address checked is the address
// connected to, so a second DNS answer cannot slip in between.
type dialer struct {
	resolver Resolver
	timeout  time.Duration
}

func (d *dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("bad port in %q", addr)
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	ips, err := d.lookup(ctx, host)
	if err != nil {
		return nil, err
	}
	var refused []netip.Addr
	var lastErr error
	for _, ip := range ips {
		if !dialAllowed(host, ip) {
			refused = append(refused, ip)
			continue
		}
		var nd net.Dialer
		c, err := nd.DialContext(ctx, network, netip.AddrPortFrom(ip.Unmap(), uint16(port)).String())
		if err == nil {
			return c, nil
		}
		lastErr = err
	}
	if lastErr != nil {
		return nil, lastErr
	}
	return nil, &AddressError{Host: host, Addrs: refused}
}

func (d *dialer) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip}, nil
	}
	ips, err := d.resolver.LookupNetIP(ctx, "ip", strings.TrimSuffix(host, "."))
	if err != nil {
		return nil, err
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("no address for %s", host)
	}
	return ips, nil
}
