// smolmoe web chat: streams replies from /v1/chat/completions (server-sent events) and colours
// each token by the expert that handled it. Each chunk's `smolmoe.experts` holds the token's
// top-1 expert at every layer; the colour is that of one chosen layer or the majority.
"use strict";

const $ = (id) => document.getElementById(id);

const state = { info: null, history: [], lastRouting: [], busy: false };

// The palette comes from the server (smolmoe/palette.py), shared with the terminal chat.
function colour(expert) {
  const palette = state.info.palette;
  return palette[expert % palette.length];
}

// A hex colour at the given opacity, e.g. for heat-map cells.
function tint(hex, alpha) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${alpha.toFixed(3)})`;
}

// The expert a token is coloured by: at the selected layer, or the most frequent over layers.
function expertOf(experts) {
  const layer = $("layer").value;
  if (layer !== "majority") return experts[Number(layer)];
  const counts = new Map();
  let best = experts[0];
  for (const e of experts) {
    counts.set(e, (counts.get(e) || 0) + 1);
    if (counts.get(e) > counts.get(best)) best = e;
  }
  return best;
}

function paint(span) {
  const experts = JSON.parse(span.dataset.experts);
  const e = expertOf(experts);
  span.style.background = colour(e) + "55";   // translucent, so text stays readable
  span.dataset.expert = String(e);
  span.title = state.info.experts[e] + "  (per layer: " +
    experts.map((x) => state.info.experts[x]).join(", ") + ")";
}

function renderLegend() {
  const legend = $("legend");
  legend.textContent = "";
  if (!state.info.experts) {
    legend.innerHTML = '<p class="muted">Dense model: one MLP per layer, no routing to show.</p>';
    $("layer").disabled = true;
    return;
  }
  state.info.experts.forEach((name, i) => {
    const item = document.createElement("span");
    item.className = "legend-item";
    item.innerHTML = `<span class="swatch" style="background:${colour(i)}"></span>`;
    item.append(name);
    legend.append(item);
  });
  for (let l = 0; l < state.info.layers; l++) {
    const opt = document.createElement("option");
    opt.value = String(l);
    opt.textContent = `layer ${l}`;
    $("layer").append(opt);
  }
}

// Rows are layers, columns experts: the share of the last reply's tokens whose top-1 expert
// at that layer was that expert, drawn in that expert's colour (stronger = larger share).
function renderHeatmap(routing) {
  const box = $("heatmap");
  if (!state.info.experts || routing.length === 0) return;
  const names = state.info.experts;
  const table = document.createElement("table");
  const head = table.insertRow();
  head.append(document.createElement("th"));
  for (const name of names) {
    const th = document.createElement("th");
    th.className = "expert";
    th.textContent = name;
    th.style.borderBottom = `4px solid ${colour(names.indexOf(name))}`;
    head.append(th);
  }
  const counts = [];
  for (let l = 0; l < state.info.layers; l++) {
    counts.push(new Array(names.length).fill(0));
    for (const experts of routing) counts[l][experts[l]] += 1;
  }
  // Opacity relative to the largest share, so that near-uniform routing still shows contrast.
  const top = Math.max(...counts.flat()) / routing.length;
  for (let l = 0; l < state.info.layers; l++) {
    const row = table.insertRow();
    const th = document.createElement("th");
    th.textContent = String(l);
    row.append(th);
    counts[l].forEach((c, e) => {
      const share = c / routing.length;
      const cell = row.insertCell();
      cell.style.background = tint(colour(e), 0.85 * share / top);
      cell.style.color = "#1f2328";
      cell.textContent = share > 0 ? Math.round(share * 100) : "";
      cell.title = `layer ${l}, ${names[e]}: ${(share * 100).toFixed(0)}% of tokens`;
    });
  }
  box.textContent = "";
  box.append(table);
}

function addMessage(role, text) {
  const div = document.createElement("div");
  div.className = `msg ${role}`;
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = role;
  div.append(who);
  const body = document.createElement("span");
  body.className = "body";
  body.textContent = text || "";
  div.append(body);
  $("log").append(div);
  $("log").scrollTop = $("log").scrollHeight;
  return body;
}

function requestBody(messages) {
  const body = {
    model: state.info.model, messages, stream: true,
    temperature: Number($("temperature").value), top_p: Number($("top-p").value),
    max_tokens: Number($("max-tokens").value),
  };
  if (state.info.thinking) {
    body.think = $("think").checked;
    if (body.think) body.thinking_budget = Number($("thinking-budget").value);
  }
  return body;
}

// Parse a server-sent event stream into JSON payloads, calling onData for each.
async function readEvents(response, onData) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      for (const line of event.split("\n")) {
        if (!line.startsWith("data: ")) continue;
        const data = line.slice(6);
        if (data === "[DONE]") return;
        onData(JSON.parse(data));
      }
    }
  }
}

// A server started with --api-key wants "Authorization: Bearer KEY" on /v1 and /api: the page
// asks for the key once (on the first 401) and keeps it in this browser's localStorage.
async function api(path, options = {}) {
  for (let attempt = 0; attempt < 2; attempt++) {
    const key = localStorage.getItem("smolmoe-api-key");
    const headers = Object.assign({}, options.headers, key ? { Authorization: `Bearer ${key}` } : {});
    const response = await fetch(path, Object.assign({}, options, { headers }));
    if (response.status !== 401 || attempt) return response;
    const given = window.prompt("This server needs an API key:");
    if (!given) return response;
    localStorage.setItem("smolmoe-api-key", given.trim());
  }
}

async function send(text) {
  state.busy = true;
  $("send").disabled = true;
  addMessage("user", text);
  const messages = state.history.concat([{ role: "user", content: text }]);
  const body = addMessage("assistant", "");
  const routing = [];
  let reply = "";
  try {
    const response = await api("/v1/chat/completions", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(requestBody(messages)),
    });
    if (!response.ok) {
      const err = await response.json().catch(() => ({}));
      throw new Error((err.error && err.error.message) || `HTTP ${response.status}`);
    }
    await readEvents(response, (chunk) => {
      if (chunk.error) throw new Error(chunk.error.message);
      const choice = chunk.choices && chunk.choices[0];
      const piece = choice && choice.delta && choice.delta.content;
      const experts = chunk.smolmoe && chunk.smolmoe.experts;
      if (experts) routing.push(experts);
      if (!piece) return;
      reply += piece;
      const span = document.createElement("span");
      span.className = "token";
      span.textContent = piece;
      if (experts) {
        span.dataset.experts = JSON.stringify(experts);
        paint(span);
      }
      body.append(span);
      $("log").scrollTop = $("log").scrollHeight;
    });
    state.history = messages.concat([{ role: "assistant", content: reply }]);
    state.lastRouting = routing;
    renderHeatmap(routing);
  } catch (e) {
    body.parentElement.classList.add("error");
    body.append(document.createTextNode(`error: ${e.message}`));
  } finally {
    state.busy = false;
    $("send").disabled = false;
  }
}

async function init() {
  state.info = await (await api("/api/info")).json();
  const kind = state.info.experts ? `MoE: ${state.info.experts.length} experts, ` : "dense, ";
  $("model-name").textContent = `${state.info.model} (${kind}${state.info.layers} layers)`;
  $("max-tokens").max = state.info.max_tokens;
  $("max-tokens").value = state.info.default_max_tokens;   // the same default as the CLI and API
  $("thinking").hidden = !state.info.thinking;
  // Bounds and defaults come from the server's settings declarations (/api/info).
  for (const [name, id] of [["temperature", "temperature"], ["top_p", "top-p"]]) {
    const f = state.info.sampling[name], input = $(id);
    input.min = f.ge ?? f.gt ?? "";
    input.max = f.le ?? f.lt ?? "";
    input.value = f.default;
  }
  renderLegend();
  $("layer").addEventListener("change", () => {
    document.querySelectorAll(".token[data-experts]").forEach(paint);
  });
  $("composer").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = $("input").value.trim();
    if (!text || state.busy) return;
    $("input").value = "";
    send(text);
  });
  $("input").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey) {
      ev.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("reset").addEventListener("click", () => {
    state.history = [];
    $("log").textContent = "";
  });
}

init();
