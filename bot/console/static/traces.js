/* 运行记录: the list (filters kept in the address, so a link can point at a member's traces) and one trace's
   steps. Everything from the API is written as text (qg.el), never as HTML: a member's message stays a message. */
"use strict";
(() => {
  const STAGES = { playbook: "剧本", command: "命令", moderation: "风控", window: "窗口" };
  const OUTCOMES = { ran: "已执行", skipped: "没有执行", failed: "出错" };
  const KINDS = { condition: "条件", action: "动作", error: "错误", command: "命令", window: "窗口", resume: "继续", omitted: "省略" };
  const FIELDS = ["member", "room", "playbook", "outcome", "since", "until"];
  const who = (name, id) => (name && id && name !== id ? `${name}（${id}）` : name || id || "");
  const outcome = (value) => qg.el("span", { class: `outcome-${value}` }, OUTCOMES[value] || value);
  const json = (value) => (typeof value === "string" ? value : JSON.stringify(value, null, 2));

  function listPage(list) {
    const form = document.getElementById("trace-filters");
    const more = document.getElementById("trace-more");
    const params = new URLSearchParams(location.search);
    for (const name of FIELDS) if (params.has(name)) form.elements[name].value = params.get(name);
    let rows = [];
    let oldest = null;

    function query() {
      const q = new URLSearchParams();
      for (const name of FIELDS) if (form.elements[name].value) q.set(name, form.elements[name].value);
      return q;
    }
    function draw() {
      qg.show(list, qg.table(["时间", "群", "成员", "类型", "名称", "结果", "说明", "消息"], rows, (t) => [
        qg.el("a", { href: `${qg.root}/traces/${t.id}` }, qg.time(t.at)),
        who(t.room, t.room_id),
        who(t.member, t.member_id),
        STAGES[t.stage] || t.stage,
        t.name,
        outcome(t.outcome),
        t.summary,
        qg.el("div", { class: "said" }, t.text),
      ]));
    }
    async function load(append) {
      const q = query();
      if (append && oldest) q.set("before", oldest);
      try {
        const data = await qg.api(`/api/traces?${q}`);
        rows = append ? rows.concat(data.traces) : data.traces;
        oldest = rows.length ? rows[rows.length - 1].id : null;
        more.hidden = !data.more;
        draw();
      } catch (error) {
        qg.flash(list, error.message, "error");
      }
    }
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const q = query().toString();
      history.replaceState(null, "", q ? `?${q}` : location.pathname);
      load(false);
    });
    more.addEventListener("click", () => load(true));
    load(false);
  }

  function stepItem(step) {
    const held = step.kind === "condition" ? (step.result ? "满足" : "不满足") : null;
    const parts = [
      qg.el("div", { class: "step-head" },
        qg.el("span", { class: "step-kind" }, KINDS[step.kind] || step.kind),
        qg.el("b", {}, step.what),
        held && qg.el("span", { class: step.result ? "ok" : "error" }, held),
        step.at && qg.el("span", { class: "step-at" }, step.at)),
    ];
    if (step.value !== null && step.value !== undefined && step.kind !== "omitted") {
      parts.push(qg.el("pre", { class: "step-value" }, (step.kind === "error" ? "" : "值：") + json(step.value)));
    }
    if (step.kind !== "condition" && step.result !== null && step.result !== undefined && step.result !== false) {
      parts.push(qg.el("pre", { class: "step-value" }, "结果：" + json(step.result)));
    }
    const classes = [`kind-${step.kind}`, held ? `held-${step.result}` : ""].join(" ");
    return qg.el("li", { class: classes }, parts);
  }

  async function onePage(box) {
    try {
      const t = await qg.api(`/api/traces/${box.dataset.id}`);
      const facts = [
        ["时间", qg.time(t.at)],
        ["结果", outcome(t.outcome)],
        ["说明", t.summary],
        ["类型", `${STAGES[t.stage] || t.stage}：${t.name}`],
        ["群", who(t.room, t.room_id)],
        ["成员", who(t.member, t.member_id)],
        ["事件", `${t.kind}（${t.event}）`],
        ["消息", t.text || "（无或已清除）"],
      ];
      qg.show(box,
        qg.el("dl", { class: "trace" }, facts.flatMap(([k, v]) => [qg.el("dt", {}, k), qg.el("dd", {}, v)])),
        qg.el("h2", {}, "步骤"),
        t.steps.length ? qg.el("ol", { class: "steps" }, t.steps.map(stepItem)) : qg.el("p", { class: "muted" }, "没有记录步骤"));
    } catch (error) {
      qg.flash(box, error.message, "error");
    }
  }

  const list = document.getElementById("trace-list");
  if (list) listPage(list);
  const one = document.getElementById("trace-one");
  if (one) onePage(one);
})();
