/* 账号: each WeChat account of the fleet, read from /api/fleet every few seconds.
   Everything from the API is written as text (qg.el), never as HTML. */
"use strict";
(() => {
  const { el, api, show, flash, time } = qg;
  const box = document.querySelector("#accounts");
  let every = 5;

  function governor(g) {
    if (g.paused) return `暂停到 ${time(g.until)}${g.why ? `（${g.why}）` : ""}`;
    return g.slow ? "放慢发送中" : "正常";
  }

  function card(a) {
    const share = a.daily_limit ? Math.min(100, Math.round((100 * a.sent_today) / a.daily_limit)) : 0;
    const beat = a.heartbeat_at ? `${time(a.heartbeat_at)}（${a.heartbeat_ago} 秒前）` : "从未";
    const rooms = a.rooms.map((r) => r.topic).join("、");
    return el("section", { class: `account ${a.online ? "up" : "down"}`, "data-account": a.account },
      el("h2", {}, el("span", { class: "name" }, a.account), el("span", { class: "state" }, a.status_text)),
      a.reason ? el("p", { class: "reason" }, `原因：${a.reason}`) : null,
      el("dl", {},
        el("dt", {}, "最后心跳"), el("dd", { class: "beat" }, beat),
        el("dt", {}, "负责的群"), el("dd", { class: "groups" }, `${a.groups} 个`, rooms ? el("small", {}, rooms) : null),
        el("dt", {}, "待发"), el("dd", { class: "queue" }, `${a.queue} 条`),
        el("dt", {}, "今日已发"), el("dd", { class: "sent" }, `${a.sent_today} / ${a.daily_limit}`,
          el("div", { class: "bar" }, el("span", { style: `width:${share}%` }))),
        el("dt", {}, "发送"), el("dd", { class: "governor" }, governor(a.governor)),
        a.host ? el("dt", {}, "进程") : null, a.host ? el("dd", {}, `${a.host} / ${a.pid}`) : null));
  }

  async function load() {
    try {
      const answer = await api("/api/fleet");
      every = answer.refresh || every;
      show(box, ...(answer.accounts.length
        ? answer.accounts.map(card)
        : [el("p", { class: "muted" }, "还没有微信号：config.yaml 里写 accounts 并启动各个进程")]));
    } catch (error) {
      flash(box, error.message, "error");
    }
    setTimeout(load, every * 1000);
  }
  load();
})();
