// Package netguard keeps webhook deliveries, which go to customer-supplied URLs, from
// reaching anything but the public internet (server-side request forgery): the
// instance metadata service at 169.254.169.254, Junction's own admin API on loopback,
// databases on the private network, and so on.
//
// # Where the check happens
//
// The check is made on the IP address being connected to, at connect time, in the
// net.Dialer's Control function, which runs for every candidate address after DNS
// resolution and before connect(2). Checking the host name, or resolving it once before
// the request, is not enough: a host name can resolve to a public address when checked
// and to 127.0.0.1 when connected (DNS rebinding), any name can be made to resolve to
// a private address, and literals such as "http://[::ffff:7f00:1]/" spell loopback
// without saying so. A blocked candidate fails with an error wrapping ErrBlocked and
// naming the address; when a name resolves to several addresses, the allowed ones are
// still tried. DNS lookups themselves are not checked: they go to the system's
// resolver, which may well be on loopback.
//
// Client's transport also ignores HTTP_PROXY and friends (a proxy would be what is
// dialled and checked, not the target) and follows no redirects: a 3xx is returned as
// the response, since a redirect target is again customer-chosen and redirects are not
// a delivery success anyway.
//
// # What is blocked
//
// Every address that is not plainly a public unicast address, unless an allowed CIDR
// (configuration `allowed_networks`) contains it. IPv4-mapped IPv6 addresses
// (::ffff:a.b.c.d) are judged as the IPv4 address they carry, and so are NAT64
// (64:ff9b::/96) and 6to4 (2002::/16) addresses, which gateways turn into that IPv4
// address.
//
// IPv4: 0.0.0.0/8 (this network), 10.0.0.0/8, 100.64.0.0/10 (carrier-grade NAT),
// 127.0.0.0/8 (loopback), 169.254.0.0/16 (link-local, cloud metadata), 172.16.0.0/12,
// 192.0.0.0/24 (IETF protocol assignments), 192.0.2.0/24, 198.51.100.0/24 and
// 203.0.113.0/24 (documentation), 192.88.99.0/24 (6to4 relay anycast), 192.168.0.0/16,
// 198.18.0.0/15 (benchmarking), 224.0.0.0/4 (multicast) and 240.0.0.0/4 (reserved,
// including the broadcast address 255.255.255.255).
//
// IPv6: everything outside 2000::/3, the only block the IANA allocates for global
// unicast — which covers :: (unspecified), ::1 (loopback), ::/96 (IPv4-compatible),
// 100::/64 (discard), fc00::/7 (unique local), fe80::/10 (link-local), fec0::/10
// (site-local) and ff00::/8 (multicast) — except NAT64 as above; and inside 2000::/3,
// 2001::/23 (IETF protocol assignments: Teredo, benchmarking, ORCHID, …), 2001:db8::/32
// and 3fff::/20 (documentation).
//
// An allowed CIDR is checked first and wins, so `127.0.0.0/8` lets tests and local
// development deliver to loopback. A zero-value Guard allows nothing beyond the public
// addresses.
//
// # URLs
//
// CheckURL vets an endpoint URL when it is created: http or https, a host, no user
// information (credentials in the URL would be stored and logged with it). It does not
// resolve the host; the connect-time check is the one that protects.
//
// CheckDestination spares a user the endpoint every delivery to which would fail: at
// registration it looks at the host's addresses (a literal address, localhost, or a
// name resolved once) and reports when the Guard refuses all of them. It is advice
// given early, not protection: a name may resolve elsewhere when the delivery connects.
package netguard
