/* 群管理: the moderation log (with the message that triggered each action, as text) and the blacklist, with 解封
   for the roles /解封 allows (the server checks the role again). */
"use strict";
(() => {
  const { el, api, table, show, flash, time } = qg;
  const page = document.querySelector("#page");
  const note = el("div", { id: "note" });
  const list = el("div", { id: "blacklist" });
  const log = el("div", { id: "log" });
  const member = el("input", { name: "member", placeholder: "微信 ID 或名字", maxlength: 100 });
  const action = el("select", { name: "action" }, el("option", { value: "" }, "全部动作"));
  const filters = el("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); loadLog(); } },
    el("label", {}, "成员", member), el("label", {}, "动作", action), el("button", { type: "submit" }, "筛选"));
  show(page, note, el("h2", {}, "黑名单"), list, el("h2", {}, "违规记录"), filters, log);

  async function lift(row, button) {
    if (!button.dataset.sure) { /* a second tap confirms: no browser dialog */
      button.dataset.sure = "1";
      button.textContent = "确认解封";
      return;
    }
    button.disabled = true;
    try {
      const done = await api(`/api/blacklist/${encodeURIComponent(row.member_id)}/lift`, { method: "POST" });
      flash(note, done.answer, done.result === "ok" ? "ok" : "");
      await Promise.all([loadList(), loadLog()]);
    } catch (error) {
      flash(note, error.message, "error");
      button.disabled = false;
    }
  }

  async function loadList() {
    try {
      const data = await api("/api/blacklist?limit=200");
      const headers = ["成员", "原因", "拉黑者", "时间", ...(data.can_lift ? [""] : [])];
      show(list, el("p", { class: "muted" }, `共 ${data.total} 人` + (data.can_lift ? "" : `；解封需要 /${data.command} 的身份`)),
        table(headers, data.rows, (r) => {
          const cells = [`${r.member}（${r.member_id}）`, r.reason || "—", r.by, time(r.at)];
          if (data.can_lift) {
            const button = el("button", { type: "button", class: "lift" }, "解封");
            button.addEventListener("click", () => lift(r, button));
            cells.push(button);
          }
          return cells;
        }));
    } catch (error) {
      flash(list, error.message, "error");
    }
  }

  async function loadLog() {
    const params = new URLSearchParams({ limit: 100 });
    if (member.value) params.set("member", member.value);
    if (action.value) params.set("action", action.value);
    try {
      const data = await api(`/api/moderation?${params}`);
      if (action.options.length === 1) {
        action.append(...Object.entries(data.actions).map(([k, v]) => el("option", { value: k }, v)));
      }
      show(log, el("p", { class: "muted" }, `共 ${data.total} 条`),
        table(["时间", "动作", "成员", "群", "原因", "触发消息", "处理者"], data.rows, (r) => [
          time(r.at), r.action_text, `${r.member}（${r.member_id}）`, r.room, r.reason || "—",
          r.message_kind ? el("span", {}, r.message_text || "", r.message_url ? ` ${r.message_url}` : "") : "",
          r.by,
        ]));
    } catch (error) {
      flash(log, error.message, "error");
    }
  }
  loadList();
  loadLog();
})();
