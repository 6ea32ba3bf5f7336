"""CIDR functions' address parsing and `cidrsubnets`, as Terraform (Go's net package and
go-cidr) does them: an IPv4-mapped IPv6 prefix with 96 or more bits ("::ffff:10.0.0.0/104")
is the IPv4 network it maps (10.0.0.0/8)."""

from __future__ import annotations

import ipaddress

from fgform.config.fn_base import FuncError
from fgform.values import ListValue

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_network(prefix: str, arg: int = 0) -> Network:
    """The network a CIDR prefix names, host bits cleared."""
    try:
        net = ipaddress.ip_network(prefix, strict=False)
    except ValueError:
        raise FuncError(f'invalid CIDR expression "{prefix}"', arg) from None
    if isinstance(net, ipaddress.IPv6Network) and net.prefixlen >= 96 and \
            net.network_address.ipv4_mapped is not None:
        return ipaddress.IPv4Network((net.network_address.ipv4_mapped, net.prefixlen - 96))
    return net


def cidrsubnets(prefix: str, *newbits: int) -> ListValue:
    """Consecutive subnets of `prefix`, one per `newbits`, each after the one before and
    aligned to its own size (Terraform's cidrsubnets)."""
    try:
        net = parse_network(prefix)
    except FuncError:
        raise FuncError(f"invalid CIDR expression: invalid CIDR address: {prefix}", 0) from None
    family = "IPv4" if net.version == 4 else "IPv6"
    out: list[str] = []
    current: Network | None = None
    for i, bits in enumerate(newbits):
        if bits < 1:
            raise FuncError("must extend prefix by at least one bit", i + 1)
        length = net.prefixlen + bits
        if length > net.max_prefixlen:
            raise FuncError(f"would extend prefix to {length} bits, which is too long for an "
                            f"{family} address", i + 1)
        if current is None:
            nxt = ipaddress.ip_network((net.network_address, length))
        else:
            # go-cidr's NextSubnet: the subnet of the new size holding the previous one's
            # last address, then the one after it.
            holder = ipaddress.ip_network((current.broadcast_address, length), strict=False)
            after = int(holder.broadcast_address) + 1
            if after >= 2**net.max_prefixlen or type(net.network_address)(after) not in net:
                raise FuncError(f"not enough remaining address space for a subnet with a "
                                f"prefix of {length} bits after {current}", i + 1)
            nxt = ipaddress.ip_network((after, length), strict=False)
        current = nxt
        out.append(str(nxt))
    return ListValue(out, "string")
