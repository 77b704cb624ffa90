// spamgw live dashboard: reads /v1/stats/stream (server-sent events over fetch, so
// the bearer token goes in a header), draws KPIs, a volume chart and top tables.
"use strict";
(function () {
  const KEY = "spamgw.token";
  const $ = (id) => document.getElementById(id);
  const fmt = new Intl.NumberFormat();
  let token = sessionStorage.getItem(KEY);
  let abort = null;
  let retryTimer = null;

  function setStatus(on, text) {
    const s = $("status");
    s.className = "status " + (on ? "on" : "off");
    s.textContent = text;
  }

  function askToken(message) {
    $("login-error").textContent = message || "";
    const d = $("login");
    if (!d.open) d.showModal();
    $("token").focus();
  }

  $("login-form").addEventListener("submit", () => {
    token = $("token").value.trim();
    sessionStorage.setItem(KEY, token);
    connect();
  });
  $("logout").addEventListener("click", () => {
    sessionStorage.removeItem(KEY);
    token = null;
    if (abort) abort.abort();
    setStatus(false, "signed out");
    askToken();
  });
  $("window").addEventListener("change", () => connect());

  function retry() {
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, 2000);
  }

  async function connect() {
    clearTimeout(retryTimer);
    if (abort) abort.abort();
    if (!token) return askToken();
    abort = new AbortController();
    const url = "/v1/stats/stream?window=" + encodeURIComponent($("window").value);
    let res;
    try {
      res = await fetch(url, { headers: { Authorization: "Bearer " + token }, signal: abort.signal });
    } catch (e) {
      if (e.name !== "AbortError") { setStatus(false, "offline"); retry(); }
      return;
    }
    if (res.status === 401) {
      sessionStorage.removeItem(KEY);
      token = null;
      setStatus(false, "token refused");
      return askToken("That token was refused.");
    }
    if (!res.ok || !res.body) { setStatus(false, "error " + res.status); return retry(); }
    setStatus(true, "live");
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let buf = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          frame(buf.slice(0, i));
          buf = buf.slice(i + 2);
        }
      }
    } catch (e) {
      if (e.name === "AbortError") return;
    }
    setStatus(false, "reconnecting");
    retry();
  }

  function frame(text) {
    const data = text.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5)).join("\n");
    if (data) render(JSON.parse(data));
  }

  function pct(n, d) { return d ? (100 * n / d).toFixed(n && n < d / 100 ? 2 : 1) + " %" : "0 %"; }

  function duration(s) {
    s = Math.floor(s);
    if (s < 3600) return Math.floor(s / 60) + "m " + (s % 60) + "s";
    if (s < 86400) return Math.floor(s / 3600) + "h " + Math.floor(s % 3600 / 60) + "m";
    return Math.floor(s / 86400) + "d " + Math.floor(s % 86400 / 3600) + "h";
  }

  function render(d) {
    const w = d.window, t = w.totals;
    $("version").textContent = d.engine.version;
    $("shadow").hidden = !d.engine.shadow;
    $("uptime").textContent = duration(d.now - d.since);
    $("k-events").textContent = fmt.format(t.events);
    const r60 = d.rates["60s"];
    $("k-rate").textContent = (r60.events / 60).toFixed(1) + "/s last minute";
    $("k-block").textContent = fmt.format(t.block);
    $("k-block-pct").textContent = pct(t.block, t.events);
    $("k-warn").textContent = fmt.format(t.warn);
    $("k-warn-pct").textContent = pct(t.warn, t.events);
    let sms = 0, call = 0;
    for (const c of w.channels) { if (c.channel === "sms") sms += c.count; else call += c.count; }
    $("k-mix").textContent = fmt.format(sms) + " / " + fmt.format(call);
    $("k-reports").textContent = fmt.format(d.reports.received);
    $("k-listed").textContent = fmt.format(d.reports.listed_total) + " listed";
    const errs = d.engine.errors + d.engine.plugin_errors;
    $("k-errors").textContent = fmt.format(errs);
    $("k-errors").parentElement.classList.toggle("bad", errs > 0);
    $("k-failopen").textContent = fmt.format(d.engine.failed_open) + " failed open";
    chart(d.series.points, d.series.bucket);
    table("rules", w.rules.map((r) => [r.rule, r.count, 0]));
    table("sources", w.sources.map((r) => [r.source, r.total, r.block]));
    table("routes", w.routes.map((r) => [r.route, r.total, r.block]));
  }

  function table(id, rows) {
    const body = $(id).tBodies[0];
    body.textContent = "";
    if (!rows.length) {
      const tr = body.insertRow();
      const td = tr.insertCell();
      td.colSpan = 4; td.className = "empty"; td.textContent = "no traffic in window";
      return;
    }
    const max = Math.max(...rows.map((r) => r[1]), 1);
    for (const [name, total, blocked] of rows) {
      const tr = body.insertRow();
      const n = tr.insertCell(); n.className = "name"; n.textContent = name; n.title = name;
      const b = tr.insertCell(); b.className = "bar";
      const span = document.createElement("span");
      span.style.width = (100 * total / max) + "%";
      if (id === "rules" || blocked > total / 2) span.className = "b";
      b.appendChild(span);
      const c = tr.insertCell(); c.className = "num"; c.textContent = fmt.format(total);
      const x = tr.insertCell(); x.className = "num"; x.textContent = id === "rules" ? "" : (blocked ? fmt.format(blocked) + " blk" : "");
    }
  }

  const NS = "http://www.w3.org/2000/svg";
  function el(name, attrs) {
    const e = document.createElementNS(NS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }

  function chart(points, bucket) {
    const svg = $("chart");
    svg.textContent = "";
    const W = 1000, H = 260, top = 20, bottom = 20;
    const n = points.length;
    if (!n) return;
    const vol = points.map((p) => p.sms + p.call);
    const max = Math.max(4, ...vol);
    const x = (i) => (n === 1 ? W : (i * W) / (n - 1));
    const y = (v) => H - bottom - (v / max) * (H - top - bottom);
    for (let g = 0; g <= 4; g++) {
      const v = (max * g) / 4, yy = y(v);
      svg.appendChild(el("line", { x1: 0, x2: W, y1: yy, y2: yy, class: "grid" }));
      const label = el("text", { x: 4, y: yy - 3, class: "gl" });
      label.textContent = (v / bucket).toFixed(v / bucket < 10 ? 1 : 0) + "/s";
      svg.appendChild(label);
    }
    const area = (vals, base, color) => {
      let d = "M0," + y(base[0]);
      vals.forEach((v, i) => { d += " L" + x(i) + "," + y(v + base[i]); });
      for (let i = n - 1; i >= 0; i--) d += " L" + x(i) + "," + y(base[i]);
      svg.appendChild(el("path", { d: d + " Z", fill: color, "fill-opacity": 0.35, stroke: color, "stroke-width": 1.5 }));
    };
    const zero = points.map(() => 0);
    const sms = points.map((p) => p.sms);
    area(points.map((p) => p.call), sms, "var(--call)");
    area(sms, zero, "var(--sms)");
    const line = (vals, color) => {
      const d = vals.map((v, i) => (i ? "L" : "M") + x(i) + "," + y(v)).join(" ");
      svg.appendChild(el("path", { d, fill: "none", stroke: color, "stroke-width": 2.5 }));
    };
    line(points.map((p) => p.warn), "var(--warn)");
    line(points.map((p) => p.block), "var(--block)");
    const t0 = new Date(points[0].t * 1000);
    $("t-start").textContent = t0.toLocaleTimeString();
    $("t-peak").textContent = "peak " + (Math.max(...vol) / bucket).toFixed(1) + "/s";
  }

  connect();
})();
