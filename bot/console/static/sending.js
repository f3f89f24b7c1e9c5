/* 发送: the governor, today's sends against the limit, the queue per group, pending and failed messages.
   Everything from the API is written as text (qg.el), never as HTML. */
"use strict";
(() => {
  const { el, api, table, show, flash, time } = qg;
  const KINDS = { reply: "回复", welcome: "欢迎", notice: "通知", broadcast: "群发", remove: "移出" };
  const page = document.querySelector("#page");
  const kinds = (counts) => Object.entries(counts).map(([k, n]) => `${KINDS[k] || k} ${n}`).join("，");

  function governor(g) {
    if (g.paused) {
      return el("div", { class: "card bad", id: "governor" }, el("b", {}, "已暂停发送"),
        `原因：${g.why || "—"}`, el("br"), `到 ${time(g.until)} 恢复`);
    }
    if (g.slow) return el("div", { class: "card", id: "governor" }, el("b", {}, "放慢发送中"), "暂停刚结束，先慢慢发");
    return el("div", { class: "card", id: "governor" }, el("b", {}, "正常发送"), "没有暂停");
  }

  function today(t) {
    const share = Math.min(100, Math.round((100 * t.sent) / t.limit));
    return el("div", { class: "card", id: "today" }, el("b", {}, `今日已发 ${t.sent} / ${t.limit}`),
      el("div", { class: "bar" }, el("span", { style: `width:${share}%` })),
      `还可发 ${t.left} 条；今日失败 ${t.failed} 条`);
  }

  function messages(rows, failed) {
    const headers = failed ? ["时间", "群/私聊", "对象", "内容", "状态", "原因"] : ["排队时间", "群/私聊", "对象", "类型", "内容"];
    return table(headers, rows, (m) => failed
      ? [time(m.created_at), m.room, m.member, el("span", {}, m.what ? `[${m.what}] ` : "", m.text), m.state_text, m.reason]
      : [time(m.created_at), m.room, m.member, KINDS[m.kind] || m.kind, el("span", {}, m.what ? `[${m.what}] ` : "", m.text)]);
  }

  async function load() {
    try {
      const [summary, pending, failed] = await Promise.all([
        api("/api/outbox"),
        api("/api/outbox/messages?state=pending&limit=50"),
        api("/api/outbox/messages?state=failed&limit=50"),
      ]);
      show(page,
        el("div", { class: "cardrow" }, governor(summary.governor), today(summary.today)),
        el("h2", {}, "各群待发送"),
        table(["群", "待发送", "类型", "最早排队"], summary.rooms, (r) => [r.topic, String(r.pending), kinds(r.kinds), time(r.oldest)]),
        el("h2", {}, `待发送的消息（${pending.total}）`),
        el("div", { id: "pending" }, messages(pending.rows, false)),
        el("h2", {}, `失败的消息（${failed.total}）`),
        el("div", { id: "failed" }, messages(failed.rows, true)),
        el("div", { class: "toolbar" }, el("button", { type: "button", onclick: load }, "刷新")));
    } catch (error) {
      flash(page, error.message, "error");
    }
  }
  load();
})();
