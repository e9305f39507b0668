# ruff: noqa: E501, RUF001
"""The class view's page: one table, refreshed from /api/class every few seconds."""

from __future__ import annotations

PAGE = r"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>manrs-lab: class view</title>
<style>
 body { font: 14px/1.4 system-ui, sans-serif; margin: 1.2em 2em; color: #222; }
 h1 { font-size: 1.3em; margin: 0 0 .2em; }
 #meta { color: #666; margin-bottom: 1em; }
 table { border-collapse: collapse; width: 100%; }
 th, td { border-bottom: 1px solid #ddd; padding: .35em .5em; text-align: left; vertical-align: top; }
 th { background: #f4f4f4; position: sticky; top: 0; }
 .task { display: inline-block; min-width: 1.6em; margin: 0 .15em .15em 0; padding: 0 .35em;
         border-radius: 3px; font-size: 12px; cursor: default; }
 .pass { background: #c8ecc8; } .fail { background: #f6caca; } .none { background: #eee; color: #888; }
 .stuck { outline: 2px solid #d33; font-weight: bold; }
 .badge { font-size: 12px; padding: 0 .4em; border-radius: 3px; background: #eee; }
 .badge.stuck { background: #d33; color: #fff; outline: none; }
 .state-running { color: #186018; } .state-checking { color: #805800; } .state-down { color: #888; }
 button { font-size: 12px; } .err { color: #a00; font-size: 12px; }
 tr.learner-stuck td:first-child { border-left: 4px solid #d33; }
</style></head><body>
<h1>Class view</h1>
<div id="meta">loading…</div>
<p><a id="csv" href="class.csv">Export CSV</a> · <a id="admin" href="#">Hub admin</a>
 · stuck = same task failing for <span id="stuckmin"></span> min or more</p>
<table><thead><tr><th>learner</th><th>server</th><th>lab (instance)</th><th>state</th>
<th>tasks: last verdict</th><th>points</th><th>last check</th><th></th></tr></thead>
<tbody id="rows"></tbody></table>
<script>
const PREFIX = {{prefix}}, XSRF = {{xsrf}}, HUB = {{hub}};
const api = p => PREFIX.replace(/\/?$/, "/") + p;
document.getElementById("admin").href = HUB.replace(/\/?$/, "/") + "hub/admin";
const ago = ts => { if (!ts) return "never"; const s = Math.max(0, Date.now() / 1000 - ts);
  return s < 60 ? Math.round(s) + " s ago" : s < 3600 ? Math.round(s / 60) + " min ago"
       : Math.round(s / 3600) + " h ago"; };
const esc = s => String(s ?? "").replace(/[&<>"']/g, c => "&#" + c.charCodeAt(0) + ";");
function taskCell(t) {
  const cls = t.verdict === "pass" ? "pass" : t.verdict === "fail" ? "fail" : "none";
  let tip = `${t.title}: ` + (t.verdict ? `${t.verdict} (${t.points}/${t.max_points}), ${ago(t.at)}` : "not checked yet");
  if (t.verdict === "fail" && t.failing_since) tip += `; failing since ${ago(t.failing_since)} (${t.failed_in_a_row} checks)`;
  if (t.failed_checks && t.failed_checks.length) tip += "\n" + t.failed_checks.join("\n");
  return `<span class="task ${cls}${t.stuck ? " stuck" : ""}" title="${esc(tip)}" data-task="${esc(t.id)}" data-verdict="${esc(t.verdict || "none")}">${esc(t.id)}</span>`;
}
// "grade now" results, kept across the table's re-renders: "user/instance" -> label
const graded = {};
let last = null;
async function grade(user, instance) {
  const key = `${user}/${instance}`;
  graded[key] = "checking…"; if (last) render(last);
  try {
    const r = await fetch(api("api/grade"), { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-XSRFToken": XSRF },
      body: JSON.stringify({ user, instance }) });
    const body = await r.json();
    graded[key] = r.ok ? `graded ${body.points}/${body.max_points}` : "failed: " + (body.message || r.status);
  } catch (e) { graded[key] = "failed: " + e; }
  refresh();
}
function render(d) {
  last = d;
  document.getElementById("stuckmin").textContent = d.stuck_minutes;
  const n = d.learners.length, up = d.learners.filter(l => l.server === "ready").length;
  const stuck = d.learners.filter(l => l.stuck).length;
  document.getElementById("meta").textContent =
    `${n} learners, ${up} servers running, ${stuck} stuck · updated ${ago(d.refreshed_at)}`;
  const rows = [];
  for (const l of d.learners) {
    const labs = l.labs.length ? l.labs : [null];
    labs.forEach((lab, i) => {
      const first = i === 0, span = labs.length;
      let tr = `<tr data-user="${esc(l.user)}" class="${l.stuck ? "learner-stuck" : ""}">`;
      if (first) tr += `<td rowspan="${span}"><b>${esc(l.user)}</b>${l.stuck ? ' <span class="badge stuck">stuck</span>' : ""}</td>
        <td rowspan="${span}">${esc(l.server)} <a href="${esc(l.server_url)}" target="_blank">open</a>
        ${l.error ? `<div class="err">${esc(l.error)}</div>` : ""}</td>`;
      if (!lab) { tr += `<td colspan="6" class="state-down">no lab started</td></tr>`; rows.push(tr); return; }
      tr += `<td data-lab="${esc(lab.lab)}">${esc(lab.lab)} <small>(${esc(lab.instance)})</small></td>
        <td class="state-${esc(lab.state)}">${esc(lab.state)}</td>
        <td>${lab.tasks.map(taskCell).join("")}</td>
        <td>${lab.checks ? `${lab.points}/${lab.max_points}` : "–"}</td>
        <td>${ago(lab.checked_at)}</td>
        <td>${lab.state === "running" && l.server === "ready"
              ? gradeButton(l.user, lab.instance) : ""}</td></tr>`;
      rows.push(tr);
    });
  }
  document.getElementById("rows").innerHTML = rows.join("");
  for (const b of document.querySelectorAll("button[data-instance]"))
    b.onclick = () => grade(b.dataset.user, b.dataset.instance);
}
function gradeButton(user, instance) {
  const state = graded[`${user}/${instance}`];
  const busy = state === "checking…" ? " disabled" : "";
  return `<button data-user="${esc(user)}" data-instance="${esc(instance)}"${busy}>grade now</button>`
       + (state ? ` <small class="graded">${esc(state)}</small>` : "");
}
async function refresh() {
  try {
    // JupyterHub wants the xsrf token on every cookie-authenticated request that is not a
    // page navigation, GETs included.
    const r = await fetch(api("api/class"), { credentials: "same-origin",
                                             headers: { "X-XSRFToken": XSRF } });
    if (r.ok) render(await r.json());
    else document.getElementById("meta").textContent = "cannot read the class: " + r.status;
  } catch (e) { document.getElementById("meta").textContent = "cannot read the class: " + e; }
}
refresh(); setInterval(refresh, 3000);
</script></body></html>
"""
