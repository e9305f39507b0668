# Reference solution for edge (AS64500, BIRD 2): a shell script run inside edge's namespace.
# Part 1 is routing policy (MANRS Action 1): a whole new bird.conf; part 2 is anti-spoofing
# (MANRS Action 2), which BIRD does not do: the Linux kernel's nftables does.

# -- Part 1: routing policy ----------------------------------------------------------------
# manrs-lab starts BIRD with its config and control socket in the node's state folder
# ($MANRS_LAB_NODE_DIR); inside a container the variable is empty and the defaults apply.
conf=${MANRS_LAB_NODE_DIR:+$MANRS_LAB_NODE_DIR/bird.conf}
ctl=${MANRS_LAB_NODE_DIR:+$MANRS_LAB_NODE_DIR/bird.ctl}

cat > "${conf:-/etc/bird/bird.conf}" <<'EOF'
router id 198.18.0.1;

protocol device {}

protocol kernel kernel4 {
  ipv4 { import none; export where source = RTS_BGP; };
}
protocol kernel kernel6 {
  ipv6 { import none; export where source = RTS_BGP; };
}

protocol static own4 {
  ipv4;
  route 198.18.0.0/24 blackhole;
}
protocol static own6 {
  ipv6;
  route 2001:db8::/48 blackhole;
}

# Our own and our customers' prefixes: all a provider or a peer may get from us (Task 3).
define OURS4 = [ 198.18.0.0/24, 198.18.1.0/24, 198.18.2.0/24 ];
define OURS6 = [ 2001:db8::/48, 2001:db8:1::/48, 2001:db8:2::/48 ];
# ... and none of it, more-specifics included, may come to us from a provider or a peer.
define OUR_SPACE4 = [ 198.18.0.0/24+, 198.18.1.0/24+, 198.18.2.0/24+ ];
define OUR_SPACE6 = [ 2001:db8::/48+, 2001:db8:1::/48+, 2001:db8:2::/48+ ];

# Bogons: every range of the IANA special-purpose registries that is not globally routable.
# 198.18.0.0/15 and 2001:db8::/32 are left out on purpose: in these labs they are the Internet
# (docs/addressing.md).
define BOGONS4 = [ 0.0.0.0/8+, 10.0.0.0/8+, 100.64.0.0/10+, 127.0.0.0/8+, 169.254.0.0/16+,
                   172.16.0.0/12+, 192.0.0.0/24+, 192.0.2.0/24+, 192.88.99.0/24+,
                   192.168.0.0/16+, 198.51.100.0/24+, 203.0.113.0/24+, 224.0.0.0/3+ ];
define BOGONS6 = [ ::/8+, 64:ff9b:1::/48+, 100::/64+, 2001::/32+, 2001:2::/48+, 2001:10::/28+,
                   2001:20::/28+, 2002::/16+, 3ffe::/16+, 5f00::/16+, fc00::/7+, fe80::/10+,
                   fec0::/10+, ff00::/8+ ];

# From a customer: exactly what it holds (Task 1).
function from_customer(prefix set holds)
{
  if net ~ holds then accept;
  reject "not the customer's: ", net;
}

# From transit or the peer: anything but the bad (Task 2).
function from_outside()
{
  if net.len = 0 then reject "default route";
  if net.type = NET_IP4 then {
    if net ~ BOGONS4 then reject "bogon ", net;
    if net ~ OUR_SPACE4 then reject "our or our customers' space ", net;
    if net.len > 24 then reject "too long ", net;
  } else {
    if net ~ BOGONS6 then reject "bogon ", net;
    if net ~ OUR_SPACE6 then reject "our or our customers' space ", net;
    if net.len > 48 then reject "too long ", net;
  }
  if bgp_path.len > 50 then reject "AS path longer than 50";
  accept;
}

# To transit or the peer: only ours (Task 3). Customers get everything.
function to_outside()
{
  if net.type = NET_IP4 then { if net ~ OURS4 then accept; }
  else { if net ~ OURS6 then accept; }
  reject;
}

template bgp neighbour {
  local as 64500;
  hold time 9; keepalive time 3; connect retry time 5;
  connect delay time 1;
}

protocol bgp cust14 from neighbour {
  neighbor 10.0.1.2 as 64501;
  ipv4 { import filter { from_customer([ 198.18.1.0/24 ]); }; export all; };
}
protocol bgp cust16 from neighbour {
  neighbor fd00:0:1::2 as 64501;
  ipv6 { import filter { from_customer([ 2001:db8:1::/48 ]); }; export all; };
}
protocol bgp cust24 from neighbour {
  neighbor 10.0.2.2 as 64502;
  ipv4 { import filter { from_customer([ 198.18.2.0/24 ]); }; export all; };
}
protocol bgp cust26 from neighbour {
  neighbor fd00:0:2::2 as 64502;
  ipv6 { import filter { from_customer([ 2001:db8:2::/48 ]); }; export all; };
}
protocol bgp transit4 from neighbour {
  neighbor 10.0.10.2 as 64510;
  ipv4 { import filter { from_outside(); }; export filter { to_outside(); }; };
}
protocol bgp transit6 from neighbour {
  neighbor fd00:0:10::2 as 64510;
  ipv6 { import filter { from_outside(); }; export filter { to_outside(); }; };
}
protocol bgp peer4 from neighbour {
  neighbor 10.0.11.2 as 64511;
  ipv4 { import filter { from_outside(); }; export filter { to_outside(); }; };
}
protocol bgp peer6 from neighbour {
  neighbor fd00:0:11::2 as 64511;
  ipv6 { import filter { from_outside(); }; export filter { to_outside(); }; };
}

include "manrs-probes.conf";
EOF
birdc ${ctl:+-s "$ctl"} configure | grep -q -e Reconfigured -e "Reconfiguration in progress"

# -- Part 2: anti-spoofing (Tasks 4 and 5) -------------------------------------------------
# Forwarded packets only (the forward hook): edge's own BGP sessions are not touched.
nft -f - <<'EOF'
table inet manrs
delete table inet manrs
table inet manrs {
  set ours4 { type ipv4_addr; flags interval; elements = { 198.18.0.0/24, 198.18.1.0/24, 198.18.2.0/24 } }
  set ours6 { type ipv6_addr; flags interval; elements = { 2001:db8::/48, 2001:db8:1::/48, 2001:db8:2::/48 } }
  # The same special-purpose ranges as the route filters.
  set bogons4 { type ipv4_addr; flags interval; auto-merge; elements = { 0.0.0.0/8, 10.0.0.0/8,
      100.64.0.0/10, 127.0.0.0/8, 169.254.0.0/16, 172.16.0.0/12, 192.0.0.0/24, 192.0.2.0/24, 192.88.99.0/24,
      192.168.0.0/16, 198.51.100.0/24, 203.0.113.0/24, 224.0.0.0/3 } }
  set bogons6 { type ipv6_addr; flags interval; auto-merge; elements = { ::/8, 64:ff9b:1::/48,
      100::/64, 2001::/32, 2001:2::/48, 2001:10::/28, 2001:20::/28, 2002::/16, 3ffe::/16,
      5f00::/16, fc00::/7, fe80::/10, fec0::/10, ff00::/8 } }
  chain forward {
    type filter hook forward priority filter; policy accept;
    # Customers (BCP 38): only their own addresses.
    iifname "eth1" ip saddr != 198.18.1.0/24 drop
    iifname "eth1" ip6 saddr != 2001:db8:1::/48 drop
    iifname "eth2" ip saddr != 198.18.2.0/24 drop
    iifname "eth2" ip6 saddr != 2001:db8:2::/48 drop
    # Transit and peer: nothing from our side of the border, nothing from bogon space.
    iifname { "eth3", "eth4" } ip saddr @ours4 drop
    iifname { "eth3", "eth4" } ip saddr @bogons4 drop
    iifname { "eth3", "eth4" } ip6 saddr @ours6 drop
    iifname { "eth3", "eth4" } ip6 saddr @bogons6 drop
  }
}
EOF
