// dfdet web page: uploads a file to /v1/predict and shows the result. No external resources; every text coming
// from the server is inserted with textContent (never as HTML).
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);

function svg(name, attrs, parent) {
  const el = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  if (parent) parent.appendChild(el);
  return el;
}

function showError(code, message) {
  const box = $("error");
  box.textContent = `Error (${code}): ${message}`;
  box.hidden = false;
  $("result").hidden = true;
}

// Line chart of scores (0..1) over positions (frame indices or seconds), with the threshold as a dashed line.
function drawChart(points, threshold, xLabel) {
  const box = $("chart");
  box.replaceChildren();
  const [w, h, left, right, top, bottom] = [640, 200, 44, 12, 12, 34];
  const root = svg("svg", { viewBox: `0 0 ${w} ${h}`, role: "img", "aria-label": "score chart" }, box);
  const xs = points.map((p) => p.x);
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs) > x0 ? Math.max(...xs) : x0 + 1;
  const px = (x) => left + ((x - x0) / (x1 - x0)) * (w - left - right);
  const py = (y) => top + (1 - y) * (h - top - bottom);
  for (const tick of [0, 0.25, 0.5, 0.75, 1]) {
    svg("line", { x1: left, x2: w - right, y1: py(tick), y2: py(tick), stroke: "#e3e7ec" }, root);
    svg("text", { x: left - 6, y: py(tick) + 4, "text-anchor": "end", "font-size": 11, fill: "#5f6b7a" }, root)
      .textContent = tick.toFixed(2);
  }
  svg("line", {
    x1: left, x2: w - right, y1: py(threshold), y2: py(threshold), stroke: "#b3261e", "stroke-dasharray": "5 4",
  }, root);
  svg("polyline", {
    points: points.map((p) => `${px(p.x)},${py(p.y)}`).join(" "), fill: "none", stroke: "#3767e6", "stroke-width": 2,
  }, root);
  for (const p of points) {
    const dot = svg("circle", { cx: px(p.x), cy: py(p.y), r: 3.5, fill: p.y >= threshold ? "#b3261e" : "#1e7b34" }, root);
    svg("title", {}, dot).textContent = `${xLabel} ${p.x}: ${p.y.toFixed(3)}`;
  }
  svg("text", { x: (left + w - right) / 2, y: h - 6, "text-anchor": "middle", "font-size": 12, fill: "#5f6b7a" }, root)
    .textContent = xLabel;
}

function showFaces(result) {
  const faces = $("faces");
  faces.replaceChildren();
  const items = result.explanations || [];
  $("faces-box").hidden = items.length === 0;
  $("method").textContent = result.explanation_method ? `(${result.explanation_method})` : "";
  for (const item of items) {
    const figure = document.createElement("figure");
    figure.className = "face";
    for (const [key, alt] of [["crop_png", "face crop"], ["overlay_png", "explanation heatmap"]]) {
      const img = document.createElement("img");
      img.src = `data:image/png;base64,${item[key]}`;
      img.alt = `${alt}, frame ${item.frame_index}`;
      figure.appendChild(img);
    }
    const caption = document.createElement("figcaption");
    caption.textContent = `frame ${item.frame_index}: ${item.score.toFixed(3)}`;
    figure.appendChild(caption);
    faces.appendChild(figure);
  }
}

// The verdict (fake, uncertain, real, not applicable) with its reason, and the caveat of a demonstration model.
function showVerdict(result) {
  const answer = result.fused || result; // a face model with an audio model: the fused score is the answer
  const verdict = answer.verdict || result.verdict || "not_applicable";
  const box = $("verdict");
  box.textContent = verdict.replace("_", " ");
  box.className = verdict;
  $("reason").textContent = result.fused ? "fused face and sound score at the fused threshold" : result.reason || "";
  const caveat = $("result-caveat");
  caveat.textContent = result.caveat || "";
  caveat.hidden = !result.demonstration_model;
}

// A file the model does not apply to (no face for a face model, no sound for an audio model): a verdict, no score.
function showNotApplicable(result) {
  $("error").hidden = true;
  $("result").hidden = false;
  $("filename").textContent = result.file;
  showVerdict(result);
  $("probability").textContent = "no score";
  $("label").textContent = "";
  $("threshold").textContent = "";
  $("details").textContent = `model ${result.model.name} ${result.model.version} (${result.model.format})`;
  $("chart-box").hidden = true;
  $("faces-box").hidden = true;
}

function showResult(result) {
  $("error").hidden = true;
  $("result").hidden = false;
  $("filename").textContent = result.file;
  showVerdict(result);
  const percent = (p) => `${(100 * p).toFixed(1)} %`;
  const verdict = result.fused || result; // a face model with an audio model: the fused score is the answer
  $("probability").textContent = percent(verdict.fake_probability);
  const label = $("label");
  label.textContent = verdict.label;
  label.className = verdict.label;
  let how = `label at threshold ${verdict.threshold.toFixed(3)}, ${result.aggregation} over frames`;
  if (result.uncertain_band && !result.fused) {
    how += `, uncertain in [${result.uncertain_band.map((v) => v.toFixed(3)).join(", ")})`;
  }
  if (result.fused) {
    const sound = result.audio.fake_probability == null
      ? `sound not scored (${result.audio.error ? result.audio.error.code : "no score"})`
      : `sound ${percent(result.audio.fake_probability)}`;
    how += `; faces ${percent(result.fake_probability)}, ${sound}, audio weight ${result.fused.audio_weight}`;
  }
  $("threshold").textContent = `(${how})`;
  const parts = [`${result.kind}`, `model ${result.model.name} ${result.model.version} (${result.model.format})`];
  if (result.frames) parts.push(`${result.frames.length} frames with a face, ${result.frames_without_face} without`);
  if (result.duration_s !== undefined) parts.push(`${result.duration_s} s of audio`);
  if (result.partial) parts.push(`partial: ${result.warning}`); // a truncated video, scored from the frames read
  parts.push(`${result.seconds.toFixed(2)} s`);
  $("details").textContent = parts.join(" · ");
  const frames = result.frames || [];
  const windows = (result.windows || []).filter((w) => w.score !== null); // windows without speech: not scored
  const chartBox = $("chart-box");
  if (frames.length > 1) {
    drawChart(frames.map((f) => ({ x: f.index, y: f.score })), result.threshold, "frame");
    $("chart-caption").textContent = result.fused
      ? "Face score per sampled frame (dashed: the face model's threshold)"
      : "Score per sampled frame";
    chartBox.hidden = false;
  } else if (windows.length > 1) {
    drawChart(windows.map((w) => ({ x: w.start_s, y: w.score })), result.threshold, "seconds");
    $("chart-caption").textContent = "Score per audio window";
    chartBox.hidden = false;
  } else {
    chartBox.hidden = true;
  }
  showFaces(result);
}

async function submit(event) {
  event.preventDefault();
  const file = $("file").files[0];
  if (!file) return;
  const body = new FormData();
  body.append("file", file, file.name);
  const explain = $("explain").checked ? "true" : "false";
  $("submit").disabled = true;
  $("status").textContent = "Scoring...";
  try {
    const response = await fetch(`/v1/predict?explain=${explain}`, { method: "POST", body });
    let payload;
    try {
      payload = await response.json();
    } catch {
      payload = { error: { code: `http_${response.status}`, message: response.statusText || "unreadable answer" } };
    }
    if (payload.verdict === "not_applicable") {
      showNotApplicable(payload);
    } else if (!response.ok || payload.error) {
      const error = payload.error || { code: `http_${response.status}`, message: "request failed" };
      showError(error.code, error.message);
    } else {
      showResult(payload);
    }
  } catch (err) {
    showError("network", String(err));
  } finally {
    $("submit").disabled = false;
    $("status").textContent = "";
  }
}

async function describeModel() {
  try {
    const health = await (await fetch("/healthz")).json();
    const m = health.model;
    let text = `Model ${m.name} ${m.version} (${m.format}, ${m.backbone}, scores ${m.modality === "audio" ? "audio" : "faces"}), `;
    if (health.audio_model) {
      const a = health.audio_model;
      text += `with ${a.name} ${a.version} (${a.format}) on sound tracks, fused with audio weight ${health.audio_weight}, `;
    }
    $("model").textContent = text + `uploads up to ${(health.limits.max_upload_bytes / 1048576).toFixed(0)} MiB`;
    const models = [m, health.audio_model, health.image_model].filter((x) => x);
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
