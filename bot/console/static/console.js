/* The console's shared helpers. Values from the API are written with textContent only, never as HTML, so a
   member called "<script>" stays a name. Writes send the session's CSRF token. */
"use strict";
const qg = (() => {
  const meta = (name) => (document.querySelector(`meta[name="${name}"]`) || {}).content || "";
  const root = meta("qg-root");
  async function api(path, options = {}) {
    const init = { credentials: "same-origin", ...options, headers: { ...(options.headers || {}) } };
    if (init.body !== undefined && typeof init.body !== "string") {
      init.body = JSON.stringify(init.body);
      init.headers["Content-Type"] = "application/json";
    }
    if ((init.method || "GET") !== "GET") init.headers["X-CSRF-Token"] = meta("qg-csrf");
    const response = await fetch(root + path, init);
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) {
      const error = new Error((data && data.error) || `请求失败（${response.status}）`);
      error.status = response.status;
      error.data = data;
      throw error;
    }
    return data;
  }
  /* el("td", {class: "muted"}, "text", child...): an element; strings become text nodes. */
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "href" && !/^(\/|\.|#|\?|https?:)/.test(String(value))) continue; /* no javascript: links */
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  /* table(["列", ...], rows, (row) => [cell, ...]): a scrollable table. */
  function table(headers, rows, cells) {
    const body = rows.map((row) => el("tr", {}, cells(row).map((c) => el("td", {}, c))));
    const empty = rows.length ? [] : [el("tr", {}, el("td", { colspan: headers.length, class: "muted" }, "没有数据"))];
    return el("div", { class: "scroll" }, el("table", {}, el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))), el("tbody", {}, body, empty)));
  }
  function show(target, ...nodes) {
    const node = typeof target === "string" ? document.querySelector(target) : target;
    node.replaceChildren(...nodes);
    return node;
  }
  function flash(target, text, kind = "") {
    return show(target, el("div", { class: `flash ${kind}`, role: "status" }, text));
  }
  /* Times in the shop's time zone (config.yaml's tz), whatever the browser's is. */
  const zone = meta("qg-tz") || undefined;
  const time = (iso) => (iso ? new Date(iso).toLocaleString("zh-CN", { hour12: false, timeZone: zone }) : "");
  return { api, el, table, show, flash, time, root, role: meta("qg-role") };
})();
