/* The sandbox page: chat with the bot as any member, on a copy of the database, with a clock of its own.
   Every text from the API is written with qg.el (text nodes), never as HTML. */
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const OUTCOMES = { ran: "执行了", skipped: "没执行", failed: "出错" };
  let sandbox = null;
  let lastSeq = 0;

  const where = () => $("new-room").value.trim() || $("room").value;
  const who = () => ({ member: $("member").value.trim(), name: $("name").value.trim() });
  const local = (iso) => (iso ? iso.replace("T", " ").slice(0, 16) : "");

  function status(about) {
    const database = about.database === "copy"
      ? "数据库：真实数据的临时副本（改动不会写回）"
      : "数据库：空的（店里用的是 PostgreSQL，沙盒从一个只有表结构的空 SQLite 数据库开始，没有真实数据）";
    qg.show("#status",
      qg.el("span", {}, database),
      qg.el("span", { class: "muted" }, `剧本 ${about.playbooks.length} 个`),
      qg.el("span", { id: "clock" }, `沙盒时间：${local(about.now)}`));
    const problems = about.problems || [];
    if (problems.length) qg.flash("#problems", `这些剧本文件有错误，沙盒里没有加载（和机器人一样）：\n${problems.join("\n")}`, "error");
    else qg.show("#problems");
  }

  function pickers(state) {
    const chosen = $("room").value;
    const rooms = state.rooms.map((r) => qg.el("option", { value: r.id }, r.topic === r.id ? r.id : `${r.topic}（${r.id}）`));
    qg.show("#room", ...rooms, qg.el("option", { value: "" }, "私聊机器人"));
    if (chosen !== "" && state.rooms.some((r) => r.id === chosen)) $("room").value = chosen;
    else if (!state.rooms.length) $("room").value = "";
    qg.show("#members", ...state.members.map((m) => qg.el("option", { value: m.id }, m.name)));
  }

  function line(l) {
    let meta;
    if (l.side === "member") meta = `${l.member_name}（${l.member_id}）· ${l.room_id ? l.room_topic : "私聊"} · ${local(l.at)}`;
    else if (l.side === "bot") meta = `机器人 → ${l.room_id ? l.room_topic : `私聊 ${l.member_name || l.member_id}`} · ${local(l.at)}`;
    else meta = local(l.at);
    return qg.el("div", { class: `msg ${l.side}`, "data-seq": l.seq },
      qg.el("div", { class: "meta" }, meta), qg.el("div", { class: "bubble" }, l.text));
  }

  function append(lines) {
    const chat = $("chat");
    for (const l of lines) {
      if (l.seq <= lastSeq) continue;
      chat.append(line(l));
      lastSeq = l.seq;
    }
    chat.scrollTop = chat.scrollHeight;
  }

  function trace(t) {
    const steps = (t.steps || []).map((s) => qg.el("li", {},
      [s.kind, s.what, s.value !== undefined ? `= ${JSON.stringify(s.value)}` : "", s.result !== undefined ? `→ ${s.result}` : "", s.at ? `（${s.at}）` : ""]
        .filter(Boolean).join(" ")));
    return qg.el("div", { class: "trace" },
      qg.el("div", { class: "head" },
        qg.el("span", { class: "muted" }, qg.time(t.at)),
        qg.el("b", {}, `${t.stage} · ${t.name}`),
        qg.el("span", { class: `outcome ${t.outcome}` }, OUTCOMES[t.outcome] || t.outcome)),
      t.summary ? qg.el("div", {}, t.summary) : null,
      steps.length ? qg.el("ul", {}, steps) : null);
  }

  async function refresh() {
    const [list, found] = await Promise.all([qg.api("/api/sandbox"), qg.api(`/api/sandbox/${sandbox}/traces?limit=50`)]);
    const about = list.sandboxes.find((s) => s.id === sandbox);
    if (about) status(about);
    qg.show("#traces", ...(found.traces.length ? found.traces.map(trace) : [qg.el("p", { class: "muted" }, "还没有执行记录")]));
  }

  async function open(state) {
    sandbox = state.id;
    lastSeq = 0;
    qg.show("#chat");
    status(state);
    pickers(state);
    append(state.lines);
    await refresh();
  }

  async function start() {
    qg.flash("#flash", "正在准备沙盒（复制数据库）……");
    try {
      const list = await qg.api("/api/sandbox");
      const state = list.sandboxes.length
        ? await qg.api(`/api/sandbox/${list.sandboxes[0].id}`)
        : await qg.api("/api/sandbox", { method: "POST" });
      await open(state);
      qg.show("#flash");
    } catch (error) {
      qg.flash("#flash", error.message, "error");
    }
  }

  async function act(path, body) {
    if (!sandbox) return;
    const buttons = document.querySelectorAll(".chat-side button");
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const answer = await qg.api(`/api/sandbox/${sandbox}/${path}`, { method: "POST", body });
      append(answer.lines);
      qg.show("#flash");
      await refresh();
      const state = await qg.api(`/api/sandbox/${sandbox}`);
      pickers(state);
      return true;
    } catch (error) {
      qg.flash("#flash", error.message, "error");
      return false;
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  $("send").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("text").value;
    if (!text.trim()) return;
    const room = where();
    if (await act("say", { ...who(), room: room || null, text })) $("text").value = "";
    $("text").focus();
  });
  $("text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("send").requestSubmit();
    }
  });
  const inGroup = (path) => async () => {
    const room = where();
    if (!room) { qg.flash("#flash", "请先选一个群（私聊里不能加群退群）", "error"); return; }
    await act(path, { ...who(), room });
  };
  $("join").addEventListener("click", inGroup("join"));
  $("leave").addEventListener("click", inGroup("leave"));
  $("advance").addEventListener("click", () => act("advance", { amount: Number($("amount").value), unit: $("unit").value }));
  $("restart").addEventListener("click", async () => {
    if (sandbox) {
      try { await qg.api(`/api/sandbox/${sandbox}`, { method: "DELETE" }); } catch (error) { /* expired already */ }
    }
    sandbox = null;
    qg.flash("#flash", "正在重新开始：用剧本文件夹里最新的剧本、数据库的新副本……");
    try {
      await open(await qg.api("/api/sandbox", { method: "POST" }));
      qg.show("#flash");
    } catch (error) {
      qg.flash("#flash", error.message, "error");
    }
  });
  start();
})();
