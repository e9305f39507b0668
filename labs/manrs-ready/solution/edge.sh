# Reference solution for edge (AS64500, FRR): a shell script run inside edge's namespace.
# Part 1 is routing policy (MANRS Action 1), given to FRR; part 2 is anti-spoofing (MANRS
# Action 2), which FRR does not do: the Linux kernel's nftables does; part 3 updates the lab's
# registry (MANRS Actions 3 and 4) through IRRd's submission API, which edge reaches at
# 169.254.43.2. (The ROAs are the other half of Action 4: solution/rpki.json, what
# `manrs-lab roa add 198.18.0.0/24 --max-length 24` and `... 2001:db8::/48 --max-length 48`
# publish.) Parts 1 and 2 are the capstone's (labs/manrs-capstone/solution/edge.sh): more than
# this lab grades, all of it right.

# -- Part 1: routing policy ----------------------------------------------------------------
# manrs-lab starts FRR with its sockets in the node's state folder ($MANRS_LAB_NODE_DIR/run);
# inside a container the variable is empty and FRR's default place applies.
vty=${MANRS_LAB_NODE_DIR:+$MANRS_LAB_NODE_DIR/run}

vtysh ${vty:+--vty_socket "$vty"} -f /dev/stdin <<'EOF'
! Customers: exactly the prefixes each one holds (Task 1).
ip prefix-list CUST1-V4 seq 10 permit 198.18.1.0/24
ipv6 prefix-list CUST1-V6 seq 10 permit 2001:db8:1::/48
ip prefix-list CUST2-V4 seq 10 permit 198.18.2.0/24
ipv6 prefix-list CUST2-V6 seq 10 permit 2001:db8:2::/48
!
! Transit and peer: anything but bogons, defaults, our and our customers' space, too-long
! prefixes (Task 2). Bogons: every range of the IANA special-purpose registries that is not
! globally routable. 198.18.0.0/15 and 2001:db8::/32 are the labs' Internet: not bogons here.
ip prefix-list FROM-OUTSIDE-V4 seq 5 deny 0.0.0.0/0
ip prefix-list FROM-OUTSIDE-V4 seq 10 deny 0.0.0.0/8 le 32
ip prefix-list FROM-OUTSIDE-V4 seq 11 deny 10.0.0.0/8 le 32
ip prefix-list FROM-OUTSIDE-V4 seq 12 deny 100.64.0.0/10 le 32
ip prefix-list FROM-OUTSIDE-V4 seq 13 deny 127.0.0.0/8 le 32
ip prefix-list FROM-OUTSIDE-V4 seq 14 deny 169.254.0.0/16 le 32
ip prefix-list FROM-OUTSIDE-V4 seq 15 deny 172.16.0.0/12 le 32
ip prefix-list FROM-OUTSIDE-V4 seq 16 deny 192.0.0.0/24 le 32
ip prefix-list FROM-OUTSIDE-V4 seq 17 deny 192.0.2.0/24 le 32
ip prefix-list FROM-OUTSIDE-V4 seq 18 deny 192.88.99.0/24 le 32
ip prefix-list FROM-OUTSIDE-V4 seq 19 deny 192.168.0.0/16 le 32
ip prefix-list FROM-OUTSIDE-V4 seq 20 deny 198.51.100.0/24 le 32
ip prefix-list FROM-OUTSIDE-V4 seq 21 deny 203.0.113.0/24 le 32
ip prefix-list FROM-OUTSIDE-V4 seq 22 deny 224.0.0.0/3 le 32
ip prefix-list FROM-OUTSIDE-V4 seq 30 deny 198.18.0.0/24 le 32
ip prefix-list FROM-OUTSIDE-V4 seq 31 deny 198.18.1.0/24 le 32
ip prefix-list FROM-OUTSIDE-V4 seq 32 deny 198.18.2.0/24 le 32
ip prefix-list FROM-OUTSIDE-V4 seq 40 deny 0.0.0.0/0 ge 25
ip prefix-list FROM-OUTSIDE-V4 seq 50 permit 0.0.0.0/0 le 24
ipv6 prefix-list FROM-OUTSIDE-V6 seq 5 deny ::/0
ipv6 prefix-list FROM-OUTSIDE-V6 seq 10 deny ::/8 le 128
ipv6 prefix-list FROM-OUTSIDE-V6 seq 11 deny 64:ff9b:1::/48 le 128
ipv6 prefix-list FROM-OUTSIDE-V6 seq 12 deny 100::/64 le 128
ipv6 prefix-list FROM-OUTSIDE-V6 seq 13 deny 2001::/32 le 128
ipv6 prefix-list FROM-OUTSIDE-V6 seq 14 deny 2001:2::/48 le 128
ipv6 prefix-list FROM-OUTSIDE-V6 seq 15 deny 2001:10::/28 le 128
ipv6 prefix-list FROM-OUTSIDE-V6 seq 16 deny 2001:20::/28 le 128
ipv6 prefix-list FROM-OUTSIDE-V6 seq 17 deny 2002::/16 le 128
ipv6 prefix-list FROM-OUTSIDE-V6 seq 18 deny 3ffe::/16 le 128
ipv6 prefix-list FROM-OUTSIDE-V6 seq 19 deny 5f00::/16 le 128
ipv6 prefix-list FROM-OUTSIDE-V6 seq 20 deny fc00::/7 le 128
ipv6 prefix-list FROM-OUTSIDE-V6 seq 21 deny fe80::/10 le 128
ipv6 prefix-list FROM-OUTSIDE-V6 seq 22 deny fec0::/10 le 128
ipv6 prefix-list FROM-OUTSIDE-V6 seq 23 deny ff00::/8 le 128
ipv6 prefix-list FROM-OUTSIDE-V6 seq 30 deny 2001:db8::/48 le 128
ipv6 prefix-list FROM-OUTSIDE-V6 seq 31 deny 2001:db8:1::/48 le 128
ipv6 prefix-list FROM-OUTSIDE-V6 seq 32 deny 2001:db8:2::/48 le 128
ipv6 prefix-list FROM-OUTSIDE-V6 seq 40 deny ::/0 ge 49
ipv6 prefix-list FROM-OUTSIDE-V6 seq 50 permit ::/0 le 48
! ... and no AS path longer than 50 ASes.
bgp as-path access-list NOT-TOO-LONG seq 5 deny ([0-9]+ ){50}[0-9]+
bgp as-path access-list NOT-TOO-LONG seq 10 permit .*
!
! Towards transit and the peer: only our own and our customers' prefixes (Task 3).
ip prefix-list OURS-V4 seq 10 permit 198.18.0.0/24
ip prefix-list OURS-V4 seq 11 permit 198.18.1.0/24
ip prefix-list OURS-V4 seq 12 permit 198.18.2.0/24
ipv6 prefix-list OURS-V6 seq 10 permit 2001:db8::/48
ipv6 prefix-list OURS-V6 seq 11 permit 2001:db8:1::/48
ipv6 prefix-list OURS-V6 seq 12 permit 2001:db8:2::/48
!
router bgp 64500
 address-family ipv4 unicast
  neighbor 10.0.1.2 prefix-list CUST1-V4 in
  neighbor 10.0.2.2 prefix-list CUST2-V4 in
  neighbor 10.0.10.2 prefix-list FROM-OUTSIDE-V4 in
  neighbor 10.0.10.2 filter-list NOT-TOO-LONG in
  neighbor 10.0.10.2 prefix-list OURS-V4 out
  neighbor 10.0.11.2 prefix-list FROM-OUTSIDE-V4 in
  neighbor 10.0.11.2 filter-list NOT-TOO-LONG in
  neighbor 10.0.11.2 prefix-list OURS-V4 out
 exit-address-family
 address-family ipv6 unicast
  neighbor fd00:0:1::2 prefix-list CUST1-V6 in
  neighbor fd00:0:2::2 prefix-list CUST2-V6 in
  neighbor fd00:0:10::2 prefix-list FROM-OUTSIDE-V6 in
  neighbor fd00:0:10::2 filter-list NOT-TOO-LONG in
  neighbor fd00:0:10::2 prefix-list OURS-V6 out
  neighbor fd00:0:11::2 prefix-list FROM-OUTSIDE-V6 in
  neighbor fd00:0:11::2 filter-list NOT-TOO-LONG in
  neighbor fd00:0:11::2 prefix-list OURS-V6 out
 exit-address-family
exit
EOF

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

# -- Part 3: the registry (Tasks 4 and 5) --------------------------------------------------
# What `manrs-lab registry submit INSTANCE FILE --password edge-lab-pw` does: post the objects
# to IRRd's submission API, with our maintainer's password. One submission: IRRd accepts a
# reference to an object created in the same one (the aut-num names the new roles and irt).
registry=169.254.43.2
submit() {  # METHOD: POST creates or changes, DELETE deletes; the JSON body on stdin
  answer=$(curl -sS -X "$1" "http://$registry:8080/v1/submit/" \
    -H 'Content-Type: application/json' --data-binary @-)
  case "$answer" in
    *'"failed":0,'*) ;;  # IRRd's summary: no object refused
    *) echo "the registry refused the update: $answer" >&2; exit 1 ;;
  esac
}
# Contacts that reach us: the NOC as a role at our own domain (admin-c and tech-c), an abuse
# desk among the contacts (e-mail abuse@), and an irt with the abuse-mailbox, named in remarks
# (IRRd 4 has no abuse-c). Route objects for exactly what edge originates, origin AS64500.
submit POST <<'JSON'
{"objects": [{"object_text": "role:           Edge Networks NOC\naddress:        Lab Street 1, Lab City\nphone:          +1 555 0101\ne-mail:         noc@edge.lab.invalid\nnic-hdl:        EDGE-NOC\nmnt-by:         MAINT-EDGE\nsource:         LABIRR\n"}, {"object_text": "role:           Edge Networks abuse desk\naddress:        Lab Street 1, Lab City\nphone:          +1 555 0102\ne-mail:         abuse@edge.lab.invalid\nnic-hdl:        EDGE-ABUSE\nmnt-by:         MAINT-EDGE\nsource:         LABIRR\n"}, {"object_text": "irt:            IRT-EDGE\naddress:        Lab Street 1, Lab City\ne-mail:         security@edge.lab.invalid\nabuse-mailbox:  abuse@edge.lab.invalid\nadmin-c:        EDGE-NOC\ntech-c:         EDGE-NOC\nmnt-by:         MAINT-EDGE\nsource:         LABIRR\n"}, {"object_text": "aut-num:        AS64500\nas-name:        EDGE-NETWORKS\ndescr:          Edge Networks, Lab City\nadmin-c:        EDGE-NOC\ntech-c:         EDGE-NOC\ntech-c:         EDGE-ABUSE\nremarks:        Abuse and security incidents (hijacks, leaks, spam): IRT-EDGE\nmnt-by:         MAINT-EDGE\nsource:         LABIRR\n"}, {"object_text": "route:          198.18.0.0/24\ndescr:          Edge Networks\norigin:         AS64500\nmnt-by:         MAINT-EDGE\nsource:         LABIRR\n"}, {"object_text": "route6:         2001:db8::/48\ndescr:          Edge Networks\norigin:         AS64500\nmnt-by:         MAINT-EDGE\nsource:         LABIRR\n"}], "passwords": ["edge-lab-pw"]}
JSON
# Stale: AS64503 no longer originates our prefix (if the object is still there).
if whois -h "$registry" '!r198.18.0.0/24,o' | grep -qw AS64503; then
  submit DELETE <<'JSON'
{"objects": [{"object_text": "route:          198.18.0.0/24\ndescr:          Edge Networks, via upstream AS64503 (before AS64500)\norigin:         AS64503\nmnt-by:         MAINT-EDGE\nsource:         LABIRR\n"}], "passwords": ["edge-lab-pw"], "delete_reason": "AS64503 no longer originates our prefix"}
JSON
fi
# bgpq4 asks IRRd's prefix index, refreshed a moment after an update: wait for the IPv6 one.
tries=0
until whois -h "$registry" '!6AS64500' | grep -q '2001:db8::/48'; do
  tries=$((tries + 1))
  [ "$tries" -lt 100 ] || { echo "the registry does not list 2001:db8::/48 yet" >&2; exit 1; }
  sleep 0.1
done
