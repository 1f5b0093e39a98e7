"""Who a request comes from, as far as limits and stored corrections need to know, never its address.

    network("203.0.113.7")            -> "203.0.113.7"
    network("2001:db8:1:2:3:4:5:6")   -> "2001:db8:1:2::/64"
    client_key(secret, address)       -> 16 hex digits of HMAC-SHA256(secret, network(address))

An IPv6 subscriber is usually given a whole /64: counted address by address, one client could
have 2^64 rate-limit buckets, so its /64 is the client. The key names a client without revealing
it: without the secret it cannot be turned back into an address, not even by trying all 2^32 IPv4
addresses. It keys the rate limits in memory, and goes with each stored correction.
"""

import hashlib
import hmac
import ipaddress

from flask import current_app, request

KEY_HEX_DIGITS = 16


def network(address):
    """The client an address stands for: an IPv4 address itself, an IPv6 address its /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address  # not an address (an odd forwarded header): a client of its own
    if ip.version == 4:
        return str(ip)
    if ip.ipv4_mapped:  # ::ffff:203.0.113.7 is the IPv4 client
        return str(ip.ipv4_mapped)
    return f"{ipaddress.IPv6Address(int(ip) >> 64 << 64)}/64"


def client_key(secret, address):
    """16 hex digits naming the client of `address`, the same for its whole network."""
    digest = hmac.new(secret.encode(), network(address).encode(), hashlib.sha256).hexdigest()
    return digest[:KEY_HEX_DIGITS]


def current_client():
    """The key of the client of the request being served (behind PROXY_HOPS proxies, the forwarded one)."""
    return client_key(current_app.config["FEEDBACK_SECRET"], request.remote_addr or "-")
