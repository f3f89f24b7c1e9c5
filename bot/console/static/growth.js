/* 增长: the points catalogue and exchanges, 拼团, the RFM table, profile fields. Values written as text only. */
"use strict";
(() => {
  const { el, api, table, show, flash, time } = qg;
  const page = document.querySelector("#page");
  const OUTCOMES = { won: "成团领券", waiting: "等待成团", not_formed: "未成团", limit: "已领过", sold_out: "券已领完", batch_expired: "券已过期", holds: "已持有" };
  const outcomes = (o) => Object.entries(o).map(([k, n]) => `${OUTCOMES[k] || k} ${n}`).join("，") || "—";

  async function load() {
    try {
      const d = await api("/api/growth");
      show(page,
        el("h2", {}, "积分兑换"),
        el("div", { id: "rewards" }, table(["奖品", "积分", "库存", "剩余", "状态", "兑换次数", "花掉积分", "已核销"], d.rewards, (r) => [
          `${r.title}（${r.id}）`, r.cost === null ? "—" : String(r.cost), r.stock === null ? "—" : String(r.stock),
          String(r.left), r.status, String(r.exchanges), String(r.points), String(r.redeemed)])),
        el("h2", {}, "最近的兑换"),
        el("div", { id: "exchanges" }, table(["时间", "成员", "奖品", "券码", "积分", "核销"], d.exchanges, (x) => [
          time(x.at), `${x.member}（${x.member_id}）`, x.reward_id, el("code", {}, x.code), String(x.cost), x.redeemed ? "已核销" : "未核销"])),
        el("h2", {}, "拼团"),
        el("div", { id: "group-buys" }, table(["开团", "群", "券", "每团人数", "已参团", "成团", "状态", "结果"], d.group_buys, (g) => [
          time(g.opened_at), g.room, g.batch, String(g.size), String(g.joined), String(g.teams), g.state, outcomes(g.outcomes)])),
        el("h2", {}, "会员价值（RFM）"),
        el("div", { id: "rfm" },
          el("div", { class: "cardrow" }, d.rfm.classes.map((c) => el("div", { class: "card" }, el("b", {}, String(c.count)), c.name))),
          d.rfm.lines.map((line) => el("p", { class: "muted" }, line)),
          table(["成员", "订单", "累计消费", "最近下单", "分层"], d.rfm.members, (m) => [
            `${m.member}（${m.member_id}）`, String(m.orders), m.spent, time(m.last_order_at), m.rfm])),
        el("h2", {}, "会员资料字段"),
        el("div", { id: "fields" }, table(["字段", "类型", "限制", "已填写人数"], d.fields, (f) => [
          `${f.title}（${f.id}）` + (f.declared ? "" : "（剧本里已没有）"), f.type || "—", f.limits || "—", String(f.filled)])));
    } catch (error) {
      flash(page, error.message, "error");
    }
  }
  load();
})();
