# Reference solution for edge (AS64500): a shell script run inside edge's namespace
# (`manrs-lab exec -i INSTANCE edge -- sh`). BCP 38 / BCP 84 at the customer edge: forward a
# customer's packets only if their source address is one of the customer's own.

# cust1 is single-homed: the route back to any of its addresses leaves through eth1, so strict
# uRPF does the job with no list to maintain. The kernel applies max(all, eth1): 1 is strict.
# (`sysctl -w net.ipv4.conf.eth1.rp_filter=1`, written so it also works without procps.)
echo 1 > /proc/sys/net/ipv4/conf/eth1/rp_filter

# cust2 is multihomed, and traffic to 198.18.2.0/25 comes back through transit: strict uRPF on
# eth2 would drop cust2's legitimate packets. Allow-list the prefixes cust2 holds (the same
# list as its BGP prefix filter, CUST2-IN) on what edge forwards from eth2. The forward hook
# leaves edge's own BGP session with cust2 (10.0.2.2) alone.
nft -f - <<'NFT'
table inet bcp38
delete table inet bcp38
table inet bcp38 {
  set cust2_prefixes {
    type ipv4_addr; flags interval;
    elements = { 198.18.2.0/24 }
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname "eth2" ip saddr != @cust2_prefixes counter drop
  }
}
NFT
