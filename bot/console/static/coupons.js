/* 优惠券: the batches table and the till (redeem a code as /核销 does). Values are written as text only. */
"use strict";
(() => {
  const { el, api, table, show, flash } = qg;
  const count = (n) => (n === null || n === undefined ? "—" : String(n));

  async function batches() {
    try {
      const data = await api("/api/coupons");
      show("#batches", table(["批次", "名称", "库存", "剩余", "已发出", "抢到", "已核销", "已过期"], data.batches,
        (b) => [b.id, b.title + (b.declared ? "" : "（剧本里已没有）"), count(b.stock), count(b.left),
          count(b.issued), count(b.claimed), count(b.redeemed), count(b.expired)]));
    } catch (e) {
      flash("#batches", e.message, "error");
    }
  }

  document.querySelector("#redeem").addEventListener("submit", async (event) => {
    event.preventDefault();
    const code = document.querySelector("#code");
    const amount = document.querySelector("#amount").value.trim();
    const body = { code: code.value };
    if (amount) body.amount = amount;
    try {
      const done = await api("/api/coupons/redeem", { method: "POST", body });
      flash("#answer", done.text, done.result === "ok" ? "ok" : "error");
      if (done.result === "ok") {
        code.value = "";
        document.querySelector("#amount").value = "";
      }
      batches();
    } catch (e) {
      flash("#answer", e.message, "error");
    }
    code.focus();
  });
  batches();
})();
