/* 审计: chat commands and console actions, filtered and a page at a time; each row as `qunguan audit` words it. */
"use strict";
(() => {
  const { el, api, table, show, flash, time } = qg;
  const page = document.querySelector("#page");
  const SIZE = 50;
  const RESULTS = { ok: "成功", refused: "被拒绝", usage: "用法不对", failed: "失败", error: "出错", absent: "无对象" };
  let offset = 0;

  const field = (label, input) => el("label", {}, label, input);
  const member = el("input", { name: "member", placeholder: "微信 ID 或名字", maxlength: 100 });
  const command = el("select", { name: "command" }, el("option", { value: "" }, "全部指令"));
  const result = el("select", { name: "result" }, el("option", { value: "" }, "全部结果"));
  const source = el("select", { name: "source" }, el("option", { value: "" }, "聊天和后台"),
    el("option", { value: "chat" }, "聊天指令"), el("option", { value: "console" }, "后台操作"));
  const room = el("input", { name: "room", placeholder: "群 ID", maxlength: 100 });
  const since = el("input", { name: "since", type: "date" });
  const until = el("input", { name: "until", type: "date" });
  const form = el("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); offset = 0; load(); } },
    field("谁", member), field("指令", command), field("结果", result), field("来源", source), field("群", room),
    field("从", since), field("到", until), el("button", { type: "submit" }, "筛选"));
  const out = el("div", { id: "rows" });
  show(page, form, out);

  function options(select, values, label) {
    const chosen = select.value;
    select.replaceChildren(select.firstChild, ...values.map((v) => el("option", { value: v }, label(v))));
    select.value = chosen;
  }

  async function load() {
    const params = new URLSearchParams({ limit: SIZE, offset });
    for (const input of [member, command, result, source, room, since, until]) {
      if (input.value) params.set(input.name, input.value);
    }
    try {
      const data = await api(`/api/audit?${params}`);
      options(command, data.commands, (c) => c);
      options(result, data.results, (r) => RESULTS[r] ? `${RESULTS[r]}（${r}）` : r);
      const pager = el("div", { class: "pager" },
        el("button", { type: "button", disabled: offset === 0, onclick: () => { offset = Math.max(0, offset - SIZE); load(); } }, "上一页"),
        el("span", { class: "muted" }, `共 ${data.total} 条，第 ${data.total ? offset + 1 : 0}–${offset + data.rows.length} 条`),
        el("button", { type: "button", disabled: offset + SIZE >= data.total, onclick: () => { offset += SIZE; load(); } }, "下一页"));
      show(out, table(["时间", "谁", "指令", "对象", "在哪", "结果", "回复"], data.rows, (r) => [
        time(r.at), `${r.member}（${r.member_id}，${r.role}）`, el("span", { title: r.line }, `${r.command} ${r.args}`),
        r.target ? `${r.target}（${r.target_id}）` : "", r.where, RESULTS[r.result] || r.result, r.answer,
      ]), pager);
    } catch (error) {
      flash(out, error.message, "error");
    }
  }
  load();
})();
