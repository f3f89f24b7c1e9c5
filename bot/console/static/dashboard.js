/* The dashboard: each chart reads its /api/... figure and draws it with ECharts; numbers show on hover, each
   chart links its CSV (the same API with format=csv). Text from the data (group names, playbook ids) goes into
   the page with textContent only, and into tooltips escaped. */
"use strict";
(() => {
  const DAILY = {
    people: ["joins", "leaves", "active"],
    activity: ["checkins", "quiz_answers", "quiz_winners"],
    coupons: ["coupons_issued", "coupons_claimed", "coupons_redeemed"],
    messages: ["messages_sent", "messages_held"],
  };
  const COLORS = ["#2f6fde", "#e0613a", "#2aa876", "#8a5cd1"];
  const charts = {};
  const esc = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const pct = (x) => (x === null || x === undefined ? "—" : `${(x * 100).toFixed(1)}%`);
  const pp = (x) => (x === null || x === undefined ? "—" : `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)}`);

  function chart(id) {
    if (!charts[id]) charts[id] = echarts.init(document.getElementById(`chart-${id}`));
    return charts[id];
  }
  function query(extra = {}) {
    const params = new URLSearchParams();
    const room = document.getElementById("dash-room").value;
    if (room) params.set("room", room);
    for (const [key, value] of Object.entries(extra)) params.set(key, value);
    return params.toString();
  }
  function link(id, path) {
    document.getElementById(`csv-${id}`).setAttribute("href", `${qg.root}${path}?${query({ ...days(path), format: "csv" })}`);
  }
  const days = (path) => (path === "/api/cohorts" ? { weeks: 8 } : { days: document.getElementById("dash-days").value });
  const base = { grid: { left: 40, right: 16, top: 40, bottom: 30, containLabel: true }, animation: false };

  function drawDaily(data) {
    const byKey = Object.fromEntries(data.figures.map((f) => [f.key, f]));
    for (const [id, keys] of Object.entries(DAILY)) {
      chart(id).setOption({
        ...base,
        color: COLORS,
        tooltip: { trigger: "axis" },
        legend: { top: 0, data: keys.map((k) => byKey[k].label) },
        xAxis: { type: "category", data: data.days.map((d) => d.slice(5)) },
        yAxis: { type: "value", minInterval: 1 },
        series: keys.map((k) => ({ name: byKey[k].label, type: "line", showSymbol: data.days.length <= 31, data: byKey[k].values })),
      }, true);
      qg.show(`#note-${id}`, qg.el("p", { class: "muted" }, keys.map((k) => `${byKey[k].label} 共 ${byKey[k].total}`).join("，")));
      link(id, "/api/stats");
    }
  }
  function drawRooms(rooms) {
    const select = document.getElementById("dash-room");
    if (select.options.length > 1) return;
    for (const r of rooms) select.append(qg.el("option", { value: r.id }, r.topic || r.id));
  }
  function drawFunnel(data) {
    chart("funnel").setOption({
      ...base,
      color: COLORS,
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      xAxis: { type: "category", data: data.steps.map((s) => s.label), axisLabel: { interval: 0 } },
      yAxis: { type: "value", minInterval: 1 },
      series: [{ name: "人数", type: "bar", data: data.steps.map((s) => s.members), label: { show: true, position: "top" } }],
    }, true);
    const joined = data.steps[0].members;
    qg.show("#note-funnel", qg.el("p", { class: "muted" }, data.steps.slice(1).map((s) => `${s.label} ${joined ? Math.round((s.members * 100) / joined) : 0}%`).join("，")));
    link("funnel", "/api/funnel");
  }
  function drawCohorts(data) {
    const weeks = data.weeks;
    const cells = [];
    data.cohorts.forEach((c, y) => c.active.forEach((n, x) => cells.push([x, y, c.members ? Math.round((n * 1000) / c.members) / 10 : 0, n, c.members])));
    chart("cohorts").setOption({
      ...base,
      grid: { left: 8, right: 8, top: 10, bottom: 60, containLabel: true },
      tooltip: { formatter: (p) => `${esc(data.cohorts[p.value[1]].week)} 入群 ${p.value[4]} 人<br>第 ${p.value[0]} 周仍活跃 ${p.value[3]} 人（${p.value[2]}%）` },
      xAxis: { type: "category", data: Array.from({ length: weeks }, (_, k) => `第${k}周`), splitArea: { show: true } },
      yAxis: { type: "category", data: data.cohorts.map((c) => `${c.week.slice(5)}（${c.members}人）`), inverse: true },
      visualMap: { min: 0, max: 100, calculable: true, orient: "horizontal", left: "center", bottom: 0, itemHeight: 120, text: ["100%", "0%"], inRange: { color: ["#f2f6fd", "#2f6fde"] } },
      series: [{ name: "留存", type: "heatmap", data: cells, label: { show: weeks <= 8, formatter: (p) => `${p.value[2]}` } }],
    }, true);
    link("cohorts", "/api/cohorts");
  }
  function drawNudges(data) {
    const rows = data.playbooks;
    chart("nudges").setOption({
      ...base,
      color: ["#2f6fde", "#aab4c3"],
      legend: { top: 0, data: ["提醒组", "对照组"] },
      tooltip: {
        trigger: "axis",
        axisPointer: { type: "shadow" },
        formatter: (items) => {
          const r = rows[items[0].dataIndex];
          return `${esc(r.playbook_id)}<br>提醒组 ${r.nudged_back}/${r.nudged} 回来（${pct(r.nudged_rate)}）<br>对照组 ${r.held_back}/${r.held} 回来（${pct(r.held_rate)}）<br>差值 ${pp(r.difference)} 个百分点，95% 区间 ${pp(r.low)} ~ ${pp(r.high)}`;
        },
      },
      xAxis: { type: "category", data: rows.map((r) => r.playbook_id), axisLabel: { interval: 0 } },
      yAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%" } },
      series: [
        { name: "提醒组", type: "bar", data: rows.map((r) => (r.nudged_rate === null ? null : Math.round(r.nudged_rate * 1000) / 10)) },
        { name: "对照组", type: "bar", data: rows.map((r) => (r.held_rate === null ? null : Math.round(r.held_rate * 1000) / 10)) },
      ],
    }, true);
    const notes = rows.map((r) => qg.el("p", {}, r.difference === null
      ? `${r.playbook_id}：${r.held ? "没有提醒过谁" : "没有对照组（holdout），无法比较"}`
      : `${r.playbook_id}：差值 ${pp(r.difference)} 个百分点（95% 区间 ${pp(r.low)} ~ ${pp(r.high)}）`));
    qg.show("#note-nudges", ...(notes.length ? notes : [qg.el("p", { class: "muted" }, "这段时间没有 for_each 剧本提醒过谁")]));
    link("nudges", "/api/nudges");
  }
  async function load() {
    const status = document.getElementById("dash-status");
    status.textContent = "正在读取……";
    try {
      const [stats, funnel, cohorts, nudges] = await Promise.all([
        qg.api(`/api/stats?${query(days("/api/stats"))}`),
        qg.api(`/api/funnel?${query(days("/api/funnel"))}`),
        qg.api(`/api/cohorts?${query(days("/api/cohorts"))}`),
        qg.api(`/api/nudges?${query(days("/api/nudges"))}`),
      ]);
      drawRooms(stats.rooms);
      drawDaily(stats);
      drawFunnel(funnel);
      drawCohorts(cohorts);
      drawNudges(nudges);
      status.textContent = `${stats.days[0]} 至 ${stats.days[stats.days.length - 1]}`;
      document.body.dataset.dashboard = "ready";
    } catch (error) {
      status.textContent = `读取失败：${error.message}`;
    }
  }
  document.getElementById("dash-controls").addEventListener("change", load);
  window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));
  load();
})();
