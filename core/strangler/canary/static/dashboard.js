// The rollout dashboard (see strangler/canary/dashboard.py): polls the admin API every
// two seconds and draws each route's rollout. Every value from the server is put in
// the page as text (textContent, SVG attributes), never as HTML: disagreements carry
// whatever the public sent.
"use strict";

(() => {
  const POLL_MS = 2000;
  const ANALYSES = 240;
  const AUDIT = 8;
  const DISAGREEMENTS = 3;
  const ACTOR = "dashboard";
  const SVG = "http://www.w3.org/2000/svg";
  const W = 320;
  const H = 150;
  const PAD = { left: 46, right: 10, top: 12, bottom: 22 };
  // the app may sit behind a path prefix: the admin API is beside the page
  const BASE = location.pathname.replace(/\/_strangler(\/.*)?$/, "");

  const CHARTS = [
    { key: "error_rate", title: "Error rate", limit: "error_rate", format: percent },
    { key: "p99_ms", title: "p99 latency", limit: "p99_ms", format: millis },
    {
      key: "disagreement_rate", title: "Disagreement rate", limit: "disagreement_rate",
      format: percent,
    },
  ];
  const ACTIONS = ["pause", "resume", "promote", "rollback"];
  const ALLOWED = {
    running: ["pause", "promote", "rollback"],
    paused: ["resume", "promote", "rollback"],
    promoted: ["rollback"],
    rolled_back: ["resume"],
  };

  const cards = new Map();
  const routesBox = document.getElementById("routes");
  const empty = document.getElementById("empty");
  const connection = document.getElementById("connection");

  // -- small DOM helpers ------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else node.setAttribute(name, value);
    }
    for (const child of children) {
      if (child !== null && child !== undefined) {
        node.append(typeof child === "string" ? document.createTextNode(child) : child);
      }
    }
    return node;
  }

  function shape(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
    return node;
  }

  function percent(value) {
    if (value === null || value === undefined) return "–";
    return `${(value * 100).toFixed(value < 0.1 ? 2 : 1)}%`;
  }

  function millis(value) {
    if (value === null || value === undefined) return "–";
    return `${value < 10 ? value.toFixed(1) : Math.round(value)} ms`;
  }

  function clock(iso) {
    const at = new Date(iso);
    return Number.isNaN(at.getTime()) ? iso : at.toLocaleTimeString();
  }

  function ago(iso) {
    const seconds = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
    return seconds < 120 ? `${seconds} s ago` : `${Math.round(seconds / 60)} min ago`;
  }

  // -- the admin API ------------------------------------------------------------

  async function problemText(response) {
    try {
      const body = await response.json();
      return `${response.status} ${body.title || ""}: ${body.detail || ""}`.trim();
    } catch (_) {
      return `${response.status} ${response.statusText}`;
    }
  }

  async function getJSON(path) {
    const response = await fetch(BASE + path, { headers: { accept: "application/json" } });
    if (!response.ok) throw new Error(await problemText(response));
    return response.json();
  }

  async function act(route, action, card) {
    card.message.textContent = `${action}…`;
    card.message.className = "message";
    try {
      const response = await fetch(
        `${BASE}/admin/canary/${encodeURIComponent(route)}/${action}`,
        {
          method: "POST",
          headers: { "content-type": "application/json", "x-strangler-actor": ACTOR },
          body: JSON.stringify({ reason: `${action} from the dashboard` }),
        },
      );
      if (!response.ok) throw new Error(await problemText(response));
      const status = await response.json();
      card.message.textContent = `${action}: now ${status.status} at step ${status.step + 1}`;
      card.message.className = "message ok";
      await refresh(card, status);
    } catch (error) {
      card.message.textContent = `${action} refused: ${error.message}`;
      card.message.className = "message bad";
    }
  }

  // -- one card per route ---------------------------------------------------------

  function createCard(route) {
    const card = { route };
    card.title = el("h2", { text: route });
    card.path = el("code", { class: "path" });
    card.badge = el("span", { class: "badge" });
    card.steps = el("ol", { class: "steps", "aria-label": "steps" });
    card.split = el("div", { class: "split" });
    card.splitText = el("p", { class: "split-text" });
    card.verdict = el("div", { class: "verdict" });
    card.buttons = {};
    const buttons = el("div", { class: "buttons" });
    for (const action of ACTIONS) {
      const button = el("button", { type: "button", class: `act act-${action}`, text: action });
      button.dataset.action = action;
      button.addEventListener("click", () => act(route, action, card));
      card.buttons[action] = button;
      buttons.append(button);
    }
    card.message = el("p", { class: "message", role: "status" });
    card.charts = {};
    const charts = el("div", { class: "charts" });
    for (const chart of CHARTS) {
      const figure = el("figure", { class: `chart chart-${chart.key}` });
      const caption = el("figcaption", {}, chart.title, " ");
      const latest = el("span", { class: "latest" });
      caption.append(latest);
      const drawing = shape("svg", {
        viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": chart.title, class: "plot",
      });
      figure.append(caption, drawing);
      charts.append(figure);
      card.charts[chart.key] = { svg: drawing, latest };
    }
    card.audit = el("tbody");
    const audit = el(
      "table", { class: "audit" },
      el("caption", { text: "Latest changes" }),
      el("thead", {}, el("tr", {}, ...["at", "action", "from → to", "by", "why"].map(
        (h) => el("th", { scope: "col", text: h }),
      ))),
      card.audit,
    );
    card.disagreements = el("div", { class: "disagreements" });
    card.root = el(
      "section", { class: "route", id: `route-${route}`, "data-route": route },
      el("header", { class: "route-head" }, card.title, card.path, card.badge),
      card.steps,
      el("div", { class: "row" }, el("div", { class: "split-box" }, card.split, card.splitText),
        card.verdict, buttons),
      card.message,
      charts,
      el("div", { class: "row lower" }, audit,
        el("div", { class: "disagreement-box" }, el("h3", { text: "Latest disagreements" }),
          card.disagreements)),
    );
    routesBox.append(card.root);
    cards.set(route, card);
    return card;
  }

  function drawHead(card, status) {
    card.path.textContent = status.path;
    card.badge.textContent = status.status.replace("_", " ");
    card.badge.className = `badge status-${status.status}`;
    card.root.dataset.status = status.status;
    card.root.dataset.step = String(status.step);
    card.steps.replaceChildren(...status.steps.map((step, index) => {
      const label = status.labels ? status.labels[index] : (step === "shadow" ? "shadow" : `${step * 100}%`);
      let state = index < status.step ? "done" : index === status.step ? "current" : "todo";
      if (status.status === "promoted") state = "done";
      if (status.status === "rolled_back" && index === status.step) state = "failed";
      return el("li", { class: `step ${state}`, text: label });
    }));
    const modern = status.mode === "modern" ? 1 : status.mode === "canary" ? status.weight : 0;
    const legacyBar = el("span", { class: "legacy" });
    const modernBar = el("span", { class: "modern" });
    legacyBar.style.width = `${(1 - modern) * 100}%`; // CSSOM: allowed under a strict CSP
    modernBar.style.width = `${modern * 100}%`;
    card.split.replaceChildren(legacyBar, modernBar);
    card.split.dataset.weight = String(modern);
    const shadow = status.mode === "shadow" ? " · the modern side is asked too and compared" : "";
    card.splitText.textContent =
      `mode ${status.mode}: legacy ${percent(1 - modern)} · modern ${percent(modern)}${shadow}`;
    const last = status.last;
    const since = `step started ${ago(status.step_started_at)}; bakes ${status.bake_s} s, ` +
      `needs ${status.min_samples} samples`;
    if (last) {
      card.verdict.replaceChildren(
        el("span", { class: `verdict-badge verdict-${last.verdict}`, text: last.verdict }),
        el("span", { text: ` ${last.samples} samples at ${clock(last.at)}` }),
        el("p", { class: "since", text: since }),
        el("ul", { class: "reasons" }, ...last.reasons.map((r) => el("li", { text: r }))),
        segmentTable(last.segments || {}),
      );
    } else {
      card.verdict.replaceChildren(el("p", { class: "since", text: `no analysis yet; ${since}` }));
    }
    const allowed = ALLOWED[status.status] || [];
    for (const action of ACTIONS) card.buttons[action].disabled = !allowed.includes(action);
  }

  // the fairness gate's figures per segment, when the route has one
  function segmentTable(segments) {
    const names = Object.keys(segments).sort();
    if (!names.length) return null;
    const head = ["segment", "answers", "error rate", "compared", "disagreement rate"];
    return el(
      "table", { class: "segments" },
      el("thead", {}, el("tr", {}, ...head.map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, ...names.map((name) => {
        const s = segments[name];
        return el(
          "tr", { "data-segment": name },
          el("td", { text: name }),
          el("td", { text: String(s.requests ?? "–") }),
          el("td", { text: percent(s.error_rate) }),
          el("td", { text: String(s.compared ?? "–") }),
          el("td", { text: percent(s.disagreement_rate) }),
        );
      })),
    );
  }

  // -- charts ---------------------------------------------------------------------

  function drawChart(target, chart, analyses, thresholds) {
    const svg = target.svg;
    const times = analyses.map((a) => new Date(a.at).getTime());
    const points = analyses
      .map((a, i) => ({ t: times[i], v: a[chart.key], verdict: a.verdict, step: a.step }))
      .filter((p) => p.v !== null && p.v !== undefined && Number.isFinite(p.v));
    const limit = thresholds ? thresholds[chart.limit] : null;
    const top = Math.max(
      limit ? limit * 1.5 : 0,
      ...points.map((p) => p.v * 1.1),
      chart.key === "p99_ms" ? 1 : 0.01,
    );
    const t0 = times.length ? Math.min(...times) : 0;
    const t1 = times.length ? Math.max(...times) : 1;
    const span = Math.max(t1 - t0, 1);
    const x = (t) => PAD.left + ((t - t0) / span) * (W - PAD.left - PAD.right);
    const y = (v) => H - PAD.bottom - (Math.min(v, top) / top) * (H - PAD.top - PAD.bottom);
    const parts = [
      shape("rect", {
        class: "frame", x: PAD.left, y: PAD.top,
        width: W - PAD.left - PAD.right, height: H - PAD.top - PAD.bottom,
      }),
    ];
    for (const fraction of [0, 0.5, 1]) {
      const value = top * fraction;
      const label = shape("text", { class: "tick", x: PAD.left - 4, y: y(value) + 3 });
      label.textContent = chart.format(value);
      parts.push(label);
    }
    // a vertical line where the step changed
    for (let i = 1; i < analyses.length; i += 1) {
      if (analyses[i].step !== analyses[i - 1].step) {
        const at = x(times[i]);
        parts.push(shape("line", {
          class: "step-change", x1: at, x2: at, y1: PAD.top, y2: H - PAD.bottom,
        }));
      }
    }
    if (limit !== null && limit !== undefined) {
      parts.push(shape("line", {
        class: "threshold", x1: PAD.left, x2: W - PAD.right, y1: y(limit), y2: y(limit),
      }));
    }
    if (points.length) {
      const d = points.map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`);
      parts.push(shape("path", { class: "series", d: d.join("") }));
      for (const p of points) {
        const dot = shape("circle", {
          class: `point verdict-${p.verdict}`, cx: x(p.t).toFixed(1), cy: y(p.v).toFixed(1), r: 2.5,
        });
        const tip = shape("title", {});
        tip.textContent = `${chart.format(p.v)} (${p.verdict})`;
        dot.append(tip);
        parts.push(dot);
      }
      const start = shape("text", { class: "tick time", x: PAD.left, y: H - 6 });
      start.textContent = new Date(t0).toLocaleTimeString();
      const end = shape("text", { class: "tick time end", x: W - PAD.right, y: H - 6 });
      end.textContent = new Date(t1).toLocaleTimeString();
      parts.push(start, end);
    } else {
      const none = shape("text", { class: "none", x: W / 2, y: H / 2 });
      none.textContent = "no samples yet";
      parts.push(none);
    }
    svg.replaceChildren(...parts);
    svg.dataset.points = String(points.length);
    target.latest.textContent = points.length
      ? `${chart.format(points[points.length - 1].v)} (limit ${chart.format(limit)})`
      : "";
  }

  // -- audit and disagreements ----------------------------------------------------

  function drawAudit(card, items) {
    card.audit.replaceChildren(...items.map((row) => el(
      "tr", { class: `audit-${row.action}` },
      el("td", { text: clock(row.at) }),
      el("td", { text: row.action }),
      el("td", { text: `${row.from} → ${row.to}` }),
      el("td", { text: row.actor }),
      el("td", { text: row.reason || "" }),
    )));
  }

  function escapeKey(key) {
    return key.replace(/~/g, "~0").replace(/\//g, "~1");
  }

  // pretty JSON as DOM text, each value marked where its pointer differs
  function jsonNode(value, pointer, marked, depth) {
    const pad = "  ".repeat(depth);
    let node;
    if (Array.isArray(value)) {
      node = el("span", { class: "j-array" }, "[");
      value.forEach((item, i) => {
        node.append(`\n${pad}  `, jsonNode(item, `${pointer}/${i}`, marked, depth + 1));
        if (i < value.length - 1) node.append(",");
      });
      node.append(value.length ? `\n${pad}]` : "]");
    } else if (value !== null && typeof value === "object") {
      const keys = Object.keys(value);
      node = el("span", { class: "j-object" }, "{");
      keys.forEach((key, i) => {
        node.append(
          `\n${pad}  `,
          el("span", { class: "j-key", text: JSON.stringify(key) }),
          ": ",
          jsonNode(value[key], `${pointer}/${escapeKey(key)}`, marked, depth + 1),
        );
        if (i < keys.length - 1) node.append(",");
      });
      node.append(keys.length ? `\n${pad}}` : "}");
    } else {
      node = el("span", { class: `j-${value === null ? "null" : typeof value}`, text: JSON.stringify(value) });
    }
    if (marked.has(pointer) || (pointer === "" && marked.has("/"))) {
      node.classList.add("differs");
      node.dataset.path = pointer || "/";
    }
    return node;
  }

  function answerBlock(title, value, marked) {
    const body = typeof value === "string" && !marked.size
      ? el("span", { text: value })
      : jsonNode(value, "", marked, 0);
    return el("div", { class: "answer" }, el("h4", { text: title }), el("pre", {}, body));
  }

  function drawDisagreements(card, found) {
    if (!found) {
      card.disagreements.replaceChildren(el("p", { class: "none", text: "not compared" }));
      return;
    }
    if (!found.items.length) {
      card.disagreements.replaceChildren(el("p", { class: "none", text: "none so far" }));
      return;
    }
    card.disagreements.replaceChildren(...found.items.map((item) => {
      const marked = new Set(item.paths.map((p) => p.path));
      const chips = el("ul", { class: "paths" }, ...item.paths.map((p) => el(
        "li", { class: `chip change-${p.change}` },
        el("code", { text: p.path || "/" }),
        ` ${JSON.stringify(p.legacy)} → ${JSON.stringify(p.modern)}`,
      )));
      return el(
        "article", { class: "disagreement", "data-id": String(item.id) },
        el("p", { class: "meta" }, `#${item.id} at ${clock(item.at)}, answered by ${item.answered_by}; request `,
          el("code", { text: JSON.stringify(item.request) })),
        chips,
        el("div", { class: "side-by-side" },
          answerBlock("legacy", item.legacy, marked), answerBlock("modern", item.modern, marked)),
      );
    }));
  }

  // -- polling --------------------------------------------------------------------

  async function refresh(card, status) {
    drawHead(card, status);
    const route = encodeURIComponent(card.route);
    const [analyses, audit, found] = await Promise.all([
      getJSON(`/admin/canary/${route}/analyses?limit=${ANALYSES}`),
      getJSON(`/admin/canary/${route}/audit?limit=${AUDIT}`),
      getJSON(`/admin/routes/${route}/disagreements?limit=${DISAGREEMENTS}`).catch(() => null),
    ]);
    for (const chart of CHARTS) {
      drawChart(card.charts[chart.key], chart, analyses.items, status.thresholds);
    }
    drawAudit(card, audit.items);
    drawDisagreements(card, found);
  }

  async function poll() {
    try {
      const { items } = await getJSON("/admin/canary");
      empty.hidden = items.length > 0;
      const seen = new Set();
      for (const status of items) {
        seen.add(status.route);
        await refresh(cards.get(status.route) || createCard(status.route), status);
      }
      for (const [route, card] of cards) {
        if (!seen.has(route)) {
          card.root.remove();
          cards.delete(route);
        }
      }
      connection.textContent = `updated ${new Date().toLocaleTimeString()}`;
      connection.className = "status ok";
      document.body.dataset.polls = String(Number(document.body.dataset.polls || 0) + 1);
    } catch (error) {
      connection.textContent = `cannot read the admin API: ${error.message}`;
      connection.className = "status bad";
    } finally {
      setTimeout(poll, POLL_MS);
    }
  }

  poll();
})();
