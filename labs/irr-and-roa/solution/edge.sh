# Reference solution for edge (AS64500, FRR): a shell script run inside edge's namespace, which
# reaches the lab registry at 169.254.43.2 (whois on port 43, submissions on port 8080).
# (The ROA is the other half of the solution: solution/rpki.json, what
# `manrs-lab roa add 198.18.0.128/25 --max-length 25 --asn 64502` publishes.)
registry=169.254.43.2

# -- Task 1: register the route object ------------------------------------------------------
# What `manrs-lab registry submit INSTANCE FILE --password cust2-lab-pw --password edge-lab-pw`
# does: post the object to IRRd's submission API. The object is cust2's (mnt-by MAINT-CUST2,
# whose password cust2 gave us), inside our 198.18.0.0/24 (route object maintained by
# MAINT-EDGE): the registry wants both maintainers' passwords.
answer=$(curl -sS -X POST "http://$registry:8080/v1/submit/" \
  -H 'Content-Type: application/json' --data-binary @- <<'JSON'
{"objects": [{"object_text": "route: 198.18.0.128/25\ndescr: cust2, assigned from edge's 198.18.0.0/24\norigin: AS64502\nmnt-by: MAINT-CUST2\nsource: LABIRR\n"}],
 "passwords": ["cust2-lab-pw", "edge-lab-pw"]}
JSON
)
case "$answer" in
  *'"failed":0,'*) ;;  # IRRd's summary: no object refused
  *) echo "the registry refused the route object: $answer" >&2; exit 1 ;;
esac
# bgpq4 asks IRRd's prefix index, refreshed a moment after an update: wait for the new object.
tries=0
until whois -h "$registry" '!gAS64502' | grep -q '198.18.0.128/25'; do
  tries=$((tries + 1))
  [ "$tries" -lt 100 ] || { echo "the registry does not list 198.18.0.128/25 yet" >&2; exit 1; }
  sleep 0.1
done

# -- Task 3: cust2's filter, generated again from the registry ------------------------------
# From cust2's own as-set only (AS-CUST2), never from all customers' (AS-EDGE-CUSTOMERS): each
# customer may announce only what it has registered.
vty=${MANRS_LAB_NODE_DIR:+$MANRS_LAB_NODE_DIR/run}
filter=$(mktemp)
bgpq4 -h "$registry" -S LABIRR -l CUST2-IN AS-CUST2 > "$filter"
grep -q '198.18.0.128/25' "$filter" || { echo "bgpq4 did not find the new prefix" >&2; exit 1; }
vtysh ${vty:+--vty_socket "$vty"} -f "$filter"
rm -f "$filter"
# edge saw cust2's /25 before the filter let it in: have it re-read what cust2 sent.
vtysh ${vty:+--vty_socket "$vty"} -c 'clear bgp ipv4 unicast 10.0.2.2 soft in'
