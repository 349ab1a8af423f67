/**
 * The status page: plain HTML, CSS and JS, no framework. The fleet table follows /events
 * (server-sent events); `#/node/NAME` shows that node's boots as a waterfall. All text from the
 * network is inserted with textContent, never as HTML.
 */

export const STATUS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Bramble fleet</title>
<link rel="stylesheet" href="/status.css">
</head>
<body>
<header><h1><a href="#/">Bramble fleet</a></h1><span id="live" class="live off">connecting…</span></header>
<main>
<section id="fleet-view">
<table id="fleet"><thead><tr>
<th>Node</th><th>Model</th><th>Serial</th><th>Address</th><th>State</th><th>Last boot</th><th>Duration</th><th>Detail</th>
</tr></thead><tbody></tbody></table>
<section id="unknown" hidden><h2>Unknown Pis knocking</h2><ul id="unknown-list"></ul></section>
</section>
<section id="node-view" hidden>
<p><a href="#/">← fleet</a></p>
<h2 id="node-title"></h2>
<div id="boots"></div>
</section>
</main>
<script src="/status.js"></script>
</body>
</html>
`;

export const STATUS_CSS = `:root{--bg:#fafaf7;--fg:#222;--dim:#777;--line:#ddd;--up:#2e7d32;--booting:#1565c0;--failed:#c62828;--never:#9e9e9e}
*{box-sizing:border-box}body{margin:0;font:14px/1.4 system-ui,sans-serif;background:var(--bg);color:var(--fg)}
header{display:flex;align-items:center;gap:1em;padding:.6em 1.2em;background:#3b2a4a;color:#fff}
header h1{font-size:1.2em;margin:0}header a{color:inherit;text-decoration:none}
.live{font-size:.85em;padding:.1em .6em;border-radius:1em;background:#2e7d32}.live.off{background:#888}
main{padding:1em 1.2em}table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:.4em .7em;border-bottom:1px solid var(--line);white-space:nowrap}
th{font-weight:600;color:var(--dim);font-size:.85em;text-transform:uppercase}
td.detail{white-space:normal;color:var(--dim)}td.num{text-align:right;font-variant-numeric:tabular-nums}
.state{display:inline-block;padding:.05em .6em;border-radius:1em;color:#fff;font-size:.85em}
.state.up{background:var(--up)}.state.booting{background:var(--booting)}.state.failed{background:var(--failed)}.state.never-seen{background:var(--never)}
#unknown ul{list-style:none;padding:0}#unknown li{margin:.4em 0;display:flex;gap:.6em;align-items:center;flex-wrap:wrap}
code{background:#eee;padding:.15em .4em;border-radius:3px;font-size:.95em}button{cursor:pointer}
.boot{background:#fff;border:1px solid var(--line);border-radius:4px;margin:0 0 1em;padding:.6em .8em}
.boot h3{margin:0 0 .4em;font-size:1em}.failure{color:var(--failed);font-weight:600}
.step{display:grid;grid-template-columns:14em 1fr 22em;gap:.6em;align-items:center;font-size:.85em;padding:1px 0}
.track{position:relative;height:12px;background:#f0f0f0}.bar{position:absolute;top:0;height:12px;min-width:2px;background:var(--booting)}
.bar.complete{background:var(--up)}.bar.probe,.bar.expected-missing,.bar.optional-missing{background:#b0bec5}
.bar.missing,.bar.failed,.bar.aborted{background:var(--failed)}.bar.dhcp{background:#8e24aa}
.name{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}.info{color:var(--dim);white-space:nowrap}
`;

export const STATUS_JS = `'use strict';
(function () {
  var snapshot = { nodes: [], unknown: [] };
  var shownNode = null;
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    (children || []).forEach(function (c) {
      node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return node;
  }
  function time(ms) { return ms ? new Date(ms).toLocaleTimeString() : '—'; }
  function secs(ms) { return ms === undefined ? '—' : (ms / 1000).toFixed(1) + ' s'; }
  function size(n) {
    if (n < 1024) return n + ' B';
    if (n < 1048576) return (n / 1024).toFixed(1) + ' KiB';
    return (n / 1048576).toFixed(1) + ' MiB';
  }
  function stateLabel(s) { return s === 'never-seen' ? 'never seen' : s; }
  function renderFleet() {
    var body = document.querySelector('#fleet tbody');
    body.replaceChildren.apply(body, snapshot.nodes.map(function (n) {
      var detail = n.failure ? n.failure.reason : n.userspaceUpAt ? 'userspace up ' + time(n.userspaceUpAt) : '';
      return el('tr', { 'data-node': n.node, 'data-state': n.state }, [
        el('td', {}, [el('a', { href: '#/node/' + encodeURIComponent(n.node) }, [n.node])]),
        el('td', {}, [n.model || '—']), el('td', {}, [n.serial || n.mac || '—']),
        el('td', {}, [n.address || '—']),
        el('td', {}, [el('span', { class: 'state ' + n.state }, [stateLabel(n.state)])]),
        el('td', {}, [time(n.lastBootAt)]), el('td', { class: 'num' }, [secs(n.lastBootMs)]),
        el('td', { class: 'detail' }, [detail])
      ]);
    }));
    var unknown = document.getElementById('unknown');
    unknown.hidden = snapshot.unknown.length === 0;
    var list = document.getElementById('unknown-list');
    list.replaceChildren.apply(list, snapshot.unknown.map(function (p) {
      var copy = el('button', { type: 'button' }, ['copy']);
      copy.addEventListener('click', function () {
        if (navigator.clipboard) navigator.clipboard.writeText(p.adopt);
      });
      return el('li', { 'data-id': p.id }, [
        el('span', {}, [p.model + ' ' + p.id + ' at ' + p.address + ' (' + p.requests + ' requests)']),
        el('code', {}, [p.adopt]), copy
      ]);
    }));
  }
  function stepRow(label, cls, start, end, boot, info) {
    var total = Math.max(boot.durationMs, 1);
    var left = Math.min(100, ((start - boot.startedAt) / total) * 100);
    var width = Math.max(0.3, (((end || start) - start) / total) * 100);
    var bar = el('div', { class: 'bar ' + cls, style: 'left:' + left + '%;width:' + Math.min(width, 100 - left) + '%' });
    return el('div', { class: 'step', 'data-result': cls }, [
      el('span', { class: 'name', title: label }, [label]), el('div', { class: 'track' }, [bar]),
      el('span', { class: 'info' }, [info])
    ]);
  }
  function renderBoots(name, boots) {
    document.getElementById('node-title').textContent = name;
    var box = document.getElementById('boots');
    box.replaceChildren.apply(box, boots.map(function (b) {
      var head = el('h3', {}, ['Boot ' + b.id + ' — ' + time(b.startedAt) + ' — ',
        el('span', { class: 'state ' + b.state }, [b.state]), ' ' + secs(b.durationMs)]);
      var rows = [head];
      if (b.failure) rows.push(el('p', { class: 'failure' }, [b.failure.reason]));
      b.dhcp.forEach(function (d) { rows.push(stepRow('DHCP ' + d.kind, 'dhcp', d.at, d.at, b, d.via)); });
      b.files.forEach(function (f) {
        var info = f.result + (f.bytes ? ' · ' + size(f.bytes) : '') +
          (f.durationMs !== undefined ? ' · ' + Math.round(f.durationMs) + ' ms' : '') +
          (f.rate ? ' · ' + size(f.rate) + '/s' : '') + (f.retransmits ? ' · ' + f.retransmits + ' retx' : '');
        rows.push(stepRow(f.file, f.result, f.at, f.endAt, b, info));
      });
      if (b.handoverAt) rows.push(stepRow('kernel handover', 'complete', b.handoverAt, b.handoverAt, b, time(b.handoverAt)));
      if (b.userspaceUpAt) rows.push(el('p', {}, ['userspace up at ' + time(b.userspaceUpAt)]));
      return el('div', { class: 'boot', 'data-boot': String(b.id), 'data-state': b.state }, rows);
    }));
    if (boots.length === 0) box.replaceChildren(el('p', {}, ['No boots seen yet.']));
  }
  function loadNode() {
    if (!shownNode) return;
    var name = shownNode;
    fetch('/nodes/' + encodeURIComponent(name) + '/boots').then(function (r) {
      return r.ok ? r.json() : [];
    }).then(function (boots) { if (shownNode === name) renderBoots(name, boots); });
  }
  function route() {
    var m = /^#\\/node\\/(.+)$/.exec(location.hash);
    shownNode = m ? decodeURIComponent(m[1]) : null;
    document.getElementById('fleet-view').hidden = Boolean(shownNode);
    document.getElementById('node-view').hidden = !shownNode;
    loadNode();
  }
  var live = document.getElementById('live');
  var events = new EventSource('/events');
  events.addEventListener('fleet', function (e) {
    snapshot = JSON.parse(e.data);
    renderFleet();
    loadNode();
  });
  events.onopen = function () { live.textContent = 'live'; live.className = 'live'; };
  events.onerror = function () { live.textContent = 'reconnecting…'; live.className = 'live off'; };
  window.addEventListener('hashchange', route);
  route();
})();
`;
