/* 会员: search, a member's card, and the staff actions the chat commands also do (加分 扣分 标签 去标签), plus
   遗忘 for admins. Every value is written as text (qg.el): a member named "<img onerror>" stays a name. */
"use strict";
(() => {
  const { el, api, table, show, flash, time } = qg;
  const params = new URLSearchParams(location.search);
  const memberId = params.get("id");
  const STATES = { usable: "可用", redeemed: "已核销", expired: "已过期" };
  const ACTIONS = { warn: "警告", remove: "移出", blacklist: "拉黑", rejoin: "拉黑后再入群被移出", unblacklist: "解封", undo: "撤销" };
  const OUTCOMES = { ran: "执行", skipped: "未执行", failed: "出错" };
  const link = (id, name) => el("a", { href: `${qg.root}/members?id=${encodeURIComponent(id)}`, class: "name" }, name || id);

  async function search(q) {
    const found = document.querySelector("#found");
    try {
      const data = await api(`/api/members?q=${encodeURIComponent(q)}`);
      show(found, el("h2", {}, q ? `搜索「${q}」：${data.members.length} 位` : "最近活跃的会员"),
        table(["名字", "微信 ID", "积分", "在群", "最近活跃"], data.members,
          (m) => [link(m.id, m.name), m.id, String(m.points), String(m.groups), time(m.last_active)]));
    } catch (e) {
      flash(found, e.message, "error");
    }
  }

  function inviters(m) {
    const seen = new Map(m.groups.filter((g) => g.inviter).map((g) => [g.inviter.id, g.inviter]));
    if (!seen.size) return "无";
    return el("span", {}, [...seen.values()].flatMap((who, i) => [i ? "、" : "", link(who.id, who.name)]));
  }

  function facts(m) {
    const rows = [
      ["微信 ID", m.id], ["阶段", m.stage || "—"], ["积分", String(m.points)],
      ["首次出现", time(m.first_seen)], ["最近活跃", time(m.last_active) || "—"],
      ["退订", m.opted_out ? `已退订（${time(m.opted_out)}）` : "否"],
      ["机器人好友", m.friend === null ? "未知" : m.friend ? "是" : "否"],
      ["生效的警告", String(m.moderation.live_warnings)],
      ["邀请人", inviters(m)],
    ];
    return el("dl", { class: "facts" }, rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  }

  function details(m) {
    return [
      el("h2", {}, "所在群"),
      table(["群", "入群", "退群", "邀请人"], m.groups, (g) => [g.topic || g.room_id, time(g.joined_at),
        g.active ? "在群" : time(g.left_at), g.inviter ? link(g.inviter.id, g.inviter.name) : "—"]),
      el("h2", {}, `邀请的人（${m.invitees.length}）`),
      table(["名字", "群", "入群"], m.invitees, (i) => [link(i.id, i.name), i.topic, time(i.joined_at)]),
      el("h2", {}, "积分流水"),
      table(["时间", "变动", "余额", "原因"], m.ledger, (r) => [time(r.at), (r.delta > 0 ? "+" : "") + r.delta, String(r.balance), r.reason]),
      el("h2", {}, "签到"),
      table(["日期", "连续天数", "积分"], m.checkins, (c) => [c.day, String(c.streak), String(c.points)]),
      el("h2", {}, "券"),
      table(["券码", "名称", "领取", "到期", "状态"], m.coupons, (c) => [c.code, c.title, time(c.issued_at),
        c.expires_at ? time(c.expires_at) : "长期有效", STATES[c.state] + (c.redeemed_at ? `（${time(c.redeemed_at)}）` : "")]),
      el("h2", {}, "违规记录"),
      table(["时间", "处理", "原因", "群", "到期"], m.moderation.entries, (r) => [time(r.at), ACTIONS[r.action] || r.action,
        r.reason, r.topic, r.cleared_at ? "已撤销" : time(r.expires_at)]),
      el("h2", {}, "最近轨迹"),
      table(["时间", "环节", "名称", "结果", "说明"], m.traces, (t) => [time(t.at), t.stage, t.name, OUTCOMES[t.outcome] || t.outcome, t.summary]),
    ];
  }

  function tags(m) {
    const chips = m.tags.map((name) => el("span", { class: "tag" }, name,
      el("button", { type: "button", title: `去掉标签「${name}」`, "aria-label": `去掉标签 ${name}`, disabled: !m.can.untag,
        onclick: () => act("untag", { name }) }, "×")));
    return show("#tags", ...(chips.length ? chips : [el("span", { class: "muted" }, "还没有标签")]));
  }

  async function load() {
    const m = await api(`/api/members/${encodeURIComponent(memberId)}`);
    document.title = `${m.name || m.id} · 会员 · 群管后台`;
    show("#card", el("h2", { class: "name", id: "member-name" }, m.name || "（没有名字）"), facts(m));
    tags(m);
    show("#details", ...details(m));
    document.querySelector("#add-points").disabled = !m.can.add_points;
    document.querySelector("#subtract-points").disabled = !m.can.subtract_points;
    document.querySelector("#add-tag").disabled = !m.can.tag;
    document.querySelector("#forget").hidden = !m.can.forget;
    return m;
  }

  async function act(action, body) {
    const answer = document.querySelector("#answer");
    try {
      const done = await api(`/api/members/${encodeURIComponent(memberId)}/${action}`, { method: "POST", body });
      flash(answer, done.text, done.result === "ok" ? "ok" : "error");
      await load();
    } catch (e) {
      flash(answer, e.message, "error");
    }
  }

  function wire() {
    document.querySelector("#points").addEventListener("submit", (event) => {
      event.preventDefault();
      const which = event.submitter && event.submitter.value === "subtract" ? "subtract-points" : "add-points";
      const amount = Number(document.querySelector("#amount").value);
      act(which, { amount, reason: document.querySelector("#reason").value });
    });
    document.querySelector("#tag").addEventListener("submit", (event) => {
      event.preventDefault();
      act("tag", { name: document.querySelector("#tag-name").value });
    });
    const confirmForm = document.querySelector("#forget-confirm");
    document.querySelector("#forget-start").addEventListener("click", () => { confirmForm.hidden = false; });
    document.querySelector("#forget-cancel").addEventListener("click", () => { confirmForm.hidden = true; });
    confirmForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const answer = document.querySelector("#forget-answer");
      try {
        const done = await api(`/api/members/${encodeURIComponent(memberId)}/forget`, {
          method: "POST", body: { confirm: document.querySelector("#forget-id").value } });
        document.querySelector("#staff-actions").hidden = true;
        confirmForm.hidden = true;
        flash(answer, done.text, "ok");
      } catch (e) {
        flash(answer, e.message, "error");
      }
    });
  }

  document.querySelector("#find").addEventListener("submit", (event) => {
    event.preventDefault();
    const q = document.querySelector("#q").value.trim();
    history.replaceState(null, "", `${qg.root}/members${q ? `?q=${encodeURIComponent(q)}` : ""}`);
    document.querySelector("#member").hidden = true;
    search(q);
  });
  if (memberId) {
    document.querySelector("#member").hidden = false;
    wire();
    load().catch((e) => flash("#card", e.message, "error"));
  } else {
    const q = params.get("q") || "";
    document.querySelector("#q").value = q;
    search(q);
  }
})();
