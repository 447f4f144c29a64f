// dfdet web page: uploads one or several files to /v1/predict (one after the other, with the API key typed in the page
// when the server requires one) and shows a card per file: the
// overall verdict and its reason, each model's own answer, the content credentials, the frame chart, the voice
// windows, the audio-visual segment timeline and the face heatmaps. No external resources; every text coming from
// the server is inserted with textContent (never as HTML).
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const COLORS = { face: "#3767e6", image: "#8e44ad", voice: "#d35400", av_sync: "#16a085" };
const $ = (id) => document.getElementById(id);
const percent = (p) => `${(100 * p).toFixed(1)} %`;
const words = (v) => (v == null ? "no verdict" : String(v).replace("_", " "));

function svg(name, attrs, parent) {
  const el = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  if (parent) parent.appendChild(el);
  return el;
}

function element(name, text, parent, className) {
  const el = document.createElement(name);
  if (text != null) el.textContent = text;
  if (className) el.className = className;
  if (parent) parent.appendChild(el);
  return el;
}

// Line chart of several score series (0..1) over positions, each with its threshold as a dashed line.
function drawChart(box, series, xLabel) {
  box.replaceChildren();
  const [w, h, left, right, top, bottom] = [640, 200, 44, 12, 12, 34];
  const root = svg("svg", { viewBox: `0 0 ${w} ${h}`, role: "img", "aria-label": "score chart" }, box);
  const xs = series.flatMap((s) => s.points.map((p) => p.x));
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs) > x0 ? Math.max(...xs) : x0 + 1;
  const px = (x) => left + ((x - x0) / (x1 - x0)) * (w - left - right);
  const py = (y) => top + (1 - y) * (h - top - bottom);
  for (const tick of [0, 0.25, 0.5, 0.75, 1]) {
    svg("line", { x1: left, x2: w - right, y1: py(tick), y2: py(tick), stroke: "#e3e7ec" }, root);
    svg("text", { x: left - 6, y: py(tick) + 4, "text-anchor": "end", "font-size": 11, fill: "#5f6b7a" }, root)
      .textContent = tick.toFixed(2);
  }
  for (const s of series) {
    const t = s.threshold;
    svg("line", { x1: left, x2: w - right, y1: py(t), y2: py(t), stroke: s.color, "stroke-dasharray": "5 4" }, root);
    svg("polyline", {
      points: s.points.map((p) => `${px(p.x)},${py(p.y)}`).join(" "), fill: "none", stroke: s.color,
      "stroke-width": 2, "data-series": s.label,
    }, root);
    for (const p of s.points) {
      const dot = svg("circle", { cx: px(p.x), cy: py(p.y), r: 3.5, fill: s.color }, root);
      svg("title", {}, dot).textContent = `${s.label}, ${xLabel} ${p.x}: ${p.y.toFixed(3)}`;
    }
  }
  svg("text", { x: (left + w - right) / 2, y: h - 6, "text-anchor": "middle", "font-size": 12, fill: "#5f6b7a" }, root)
    .textContent = xLabel;
  const legend = element("p", null, box, "legend");
  for (const s of series) {
    const key = element("span", `${s.label} (dashed: threshold ${s.threshold.toFixed(3)})`, legend, "key");
    key.style.color = s.color;
  }
}

// The segments each model judged fake (an audio-visual model's segments, a voice model's fake regions), one track per
// model, as bars on a time axis of the file's duration.
function drawTimeline(box, tracks, duration) {
  box.replaceChildren();
  const [w, left, right, row] = [640, 120, 12, 28];
  const h = 24 + row * tracks.length;
  const root = svg("svg", { viewBox: `0 0 ${w} ${h}`, role: "img", "aria-label": "segment timeline" }, box);
  const ends = tracks.flatMap((t) => t.segments.map((s) => s.end_s));
  const end = Math.max(duration || 0, ...ends, 1e-3);
  const px = (t) => left + (t / end) * (w - left - right);
  tracks.forEach((track, i) => {
    const y = 6 + i * row;
    const g = svg("g", { "data-track": track.role }, root);
    svg("text", { x: left - 6, y: y + 14, "text-anchor": "end", "font-size": 11, fill: "#5f6b7a" }, g)
      .textContent = track.label;
    svg("rect", { x: left, y, width: w - left - right, height: 20, fill: "#eef1f5", stroke: "#d5dbe3" }, g);
    for (const s of track.segments) {
      const score = s.score ?? s.max_score ?? 1;
      const bar = svg("rect", {
        class: "segment", x: px(s.start_s), y, width: Math.max(2, px(s.end_s) - px(s.start_s)), height: 20,
        fill: "#b3261e", "fill-opacity": 0.35 + 0.65 * score,
      }, g);
      svg("title", {}, bar).textContent = `${track.label}: ${s.start_s}-${s.end_s} s, ${score.toFixed(3)}`;
    }
  });
  for (const t of [0, end / 2, end]) {
    svg("text", { x: px(t), y: h - 4, "text-anchor": "middle", "font-size": 11, fill: "#5f6b7a" }, root)
      .textContent = `${t.toFixed(1)} s`;
  }
}

// A result of one model (no "models") or of a suite: the list of {name, role, ...answer}.
function modelsOf(result) {
  if (result.models) return Object.entries(result.models).map(([name, m]) => ({ name, ...m }));
  if (!result.model) return [];
  const one = [{ name: "model", role: result.model.modality, routed: true, ...result }];
  const sync = result.sync; // the training-free lip-sync measure of a video with sound: evidence, not a verdict
  if (sync) {
    const lead = sync.offset_frames >= 0 ? "after" : "before";
    const reason = sync.error ? `${sync.error.code}: ${sync.error.message}`
      : `sound ${Math.abs(sync.offset_frames)} frame(s) ${lead} the lips, confidence ${sync.confidence.toFixed(2)}`
        + ` (training-free measure, no verdict)`;
    one.push({ name: "lip sync", role: "av_sync", routed: true, verdict: null, fake_probability: null, reason });
  }
  return one;
}

function showModels(card, models) {
  const body = card.querySelector(".models tbody");
  body.replaceChildren();
  for (const m of models) {
    const row = element("tr", null, body, m.routed ? "" : "skipped");
    row.dataset.model = m.name;
    element("td", `${m.name}${m.model ? ` (${m.model.name} ${m.model.version})` : ""}`, row);
    element("td", m.role, row);
    element("td", words(m.verdict), row, `verdict-cell ${m.verdict || "none"}`);
    element("td", m.fake_probability == null ? "-" : percent(m.fake_probability), row, "probability");
    element("td", m.threshold == null ? "-" : m.threshold.toFixed(3), row);
    const why = m.error && m.verdict !== "not_applicable" ? `${m.error.code}: ${m.error.message}` : m.reason || "";
    element("td", m.routed ? why : `not sent: ${why}`, row);
  }
}

function showCredentials(card, found) {
  const box = card.querySelector(".credentials");
  box.hidden = !found;
  if (!found) return;
  card.querySelector(".credentials-summary").textContent = found.summary;
  const list = card.querySelector(".credentials-details");
  list.replaceChildren();
  const c2pa = found.c2pa || {};
  box.dataset.state = c2pa.present ? c2pa.validation_state || "unknown" : "none";
  if (c2pa.present && !c2pa.error) {
    const signer = c2pa.signer || {};
    element("li", `C2PA validation: ${c2pa.validation_state}${c2pa.trusted ? " (trusted signer)" : ""}`, list);
    element("li", `signer: ${[signer.common_name, signer.issuer].filter((x) => x).join(" / ") || "unknown"}`, list);
    element("li", `claim generator: ${c2pa.claim_generator || "unknown"}`, list);
    for (const a of c2pa.actions || []) {
      const parts = [a.action, a.digital_source_type, a.software_agent].filter((x) => x);
      element("li", `action: ${parts.join(" · ")}`, list, "action");
    }
    for (const f of c2pa.failures || []) element("li", `failure: ${f.code} (${f.explanation})`, list, "failure");
  }
}

function showCharts(card, models) {
  const series = models.filter((m) => (m.frames || []).length > 1).map((m) => ({
    label: `${m.role} model`, color: COLORS[m.role] || "#333", threshold: m.threshold,
    points: m.frames.map((f) => ({ x: f.index, y: f.score })),
  }));
  card.querySelector(".chart-box").hidden = series.length === 0;
  if (series.length) drawChart(card.querySelector(".chart"), series, "frame");
  const scoredWindows = (m) => (m.windows || []).filter((w) => w.score !== null); // windows without speech: no score
  const voice = models.filter((m) => scoredWindows(m).length > 1 && m.role !== "av_sync");
  card.querySelector(".windows-box").hidden = voice.length === 0;
  if (voice.length) {
    drawChart(card.querySelector(".windows-chart"), voice.map((m) => ({
      label: `${m.role} model`, color: COLORS[m.role] || "#333", threshold: m.threshold,
      points: scoredWindows(m).map((x) => ({ x: x.start_s, y: x.score })),
    })), "seconds");
  }
  const tracks = models.filter((m) => m.routed !== false && ((m.segments || m.fake_regions || []).length > 0))
    .map((m) => ({ label: `${m.role} model`, role: m.role, segments: m.segments || m.fake_regions }));
  card.querySelector(".timeline-box").hidden = tracks.length === 0; // filled by audio-visual and voice models
  if (tracks.length) {
    const duration = Math.max(0, ...models.map((m) => m.duration_s || 0));
    drawTimeline(card.querySelector(".timeline"), tracks, duration);
  }
}

function showFaces(card, models) {
  const faces = card.querySelector(".faces");
  faces.replaceChildren();
  const owner = models.find((m) => (m.explanations || []).some((e) => e.crop_png));
  const items = owner ? owner.explanations : [];
  card.querySelector(".faces-box").hidden = items.length === 0;
  card.querySelector(".method").textContent = owner && owner.explanation_method ? `(${owner.explanation_method})` : "";
  for (const item of items) {
    const figure = element("figure", null, faces, "face");
    for (const [key, alt] of [["crop_png", "face crop"], ["overlay_png", "explanation heatmap"]]) {
      const img = element("img", null, figure);
      img.src = `data:image/png;base64,${item[key]}`;
      img.alt = `${alt}, frame ${item.frame_index}`;
    }
    element("figcaption", `frame ${item.frame_index}: ${item.score.toFixed(3)}`, figure);
  }
}

function showResult(card, result) {
  const models = modelsOf(result);
  card.querySelector(".answer").hidden = false;
  const verdict = result.verdict || null;
  const box = card.querySelector(".verdict");
  box.textContent = words(verdict);
  box.className = `verdict ${verdict || "none"}`;
  card.dataset.verdict = verdict || "none";
  card.querySelector(".rule").textContent = result.overall ? `(rule: ${result.overall.rule})` : "";
  card.querySelector(".reason").textContent = result.reason || "";
  const caveat = card.querySelector(".result-caveat");
  caveat.textContent = result.caveat || "";
  caveat.hidden = !result.demonstration_model;
  const parts = [result.kind, result.media_type];
  if (result.has_sound !== undefined) parts.push(result.has_sound ? "with sound" : "no sound");
  if (result.partial) parts.push(`partial: ${result.warning}`);
  if (result.seconds !== undefined) parts.push(`${result.seconds.toFixed(2)} s`);
  card.querySelector(".details").textContent = parts.filter((x) => x).join(" · ");
  showModels(card, models);
  showCredentials(card, result.content_credentials);
  showCharts(card, models);
  showFaces(card, models);
}

function showCardError(card, code, message) {
  const box = card.querySelector(".error");
  box.textContent = `Error (${code}): ${message}`;
  box.hidden = false;
  card.dataset.verdict = "error";
}

async function scoreOne(file, card, explain) {
  const body = new FormData();
  body.append("file", file, file.name);
  const state = card.querySelector(".state");
  state.textContent = "scoring...";
  try {
    const key = $("api-key").value.trim(); // kept in the page only: never stored, never put in a URL
    const headers = key ? { Authorization: `Bearer ${key}` } : {};
    const response = await fetch(`/v1/predict?explain=${explain}`, { method: "POST", body, headers });
    let payload;
    try {
      payload = await response.json();
    } catch {
      payload = { error: { code: `http_${response.status}`, message: response.statusText || "unreadable answer" } };
    }
    if (payload.verdict === "not_applicable" || (response.ok && !payload.error) || payload.models) {
      showResult(card, payload); // a verdict (a file no model applies to is an answer too)
      if (payload.error && payload.verdict !== "not_applicable") showCardError(card, payload.error.code, payload.error.message);
    } else {
      const error = payload.error || { code: `http_${response.status}`, message: "request failed" };
      const hint = response.status === 401 ? " (enter an API key above)" : "";
      showCardError(card, error.code, error.message + hint);
    }
  } catch (err) {
    showCardError(card, "network", String(err));
  } finally {
    state.textContent = "";
    card.classList.add("done");
  }
}

async function submit(event) {
  event.preventDefault();
  const files = Array.from($("file").files);
  if (!files.length) return;
  const explain = $("explain").checked ? "true" : "false";
  const results = $("results");
  results.replaceChildren();
  const cards = files.map((file) => {
    const card = $("card-template").content.firstElementChild.cloneNode(true);
    card.querySelector(".filename").textContent = file.name;
    card.querySelector(".state").textContent = "waiting";
    card.dataset.file = file.name;
    results.appendChild(card);
    return card;
  });
  $("submit").disabled = true;
  for (let i = 0; i < files.length; i += 1) {
    $("status").textContent = `Scoring ${i + 1} of ${files.length}...`;
    await scoreOne(files[i], cards[i], explain); // one at a time: the server's queue stays free for others
  }
  $("submit").disabled = false;
  $("status").textContent = `${files.length} file(s) scored`;
}

async function describeModel() {
  try {
    const health = await (await fetch("/healthz")).json();
    const m = health.model;
    const suite = health.suite;
    let text = `Model ${m.name} ${m.version} (${m.format}, ${m.backbone}, scores ${m.modality === "audio" ? "audio" : "faces"}), `;
    const models = [m];
    if (suite) {
      const n = Object.keys(suite.models).length;
      text = `Detector suite of ${n} models, overall verdict by the rule "${suite.rule}", `;
      const list = $("suite");
      list.replaceChildren();
      for (const [name, s] of Object.entries(suite.models)) {
        element("li", `${name}: ${s.role} model ${s.name} ${s.version} (${s.format}) on ${s.media.join(", ")}, weight ${s.weight}`, list);
        models.push(s);
      }
      list.hidden = false;
    }
    $("model").textContent = text + `uploads up to ${(health.limits.max_upload_bytes / 1048576).toFixed(0)} MiB`;
    if (models.some((x) => x.trained_on === "synthetic")) {
      const caveat = $("caveat");
      caveat.textContent = "Demonstration model: trained only on dfdet's built-in synthetic data. Its verdicts say "
        + "nothing about real media.";
      caveat.hidden = false;
    }
  } catch {
    $("model").textContent = "";
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("upload").addEventListener("submit", submit);
  describeModel();
});
