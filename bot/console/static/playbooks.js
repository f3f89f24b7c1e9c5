/* The 玩法 pages: the list (switches, runs in 24 hours, files) and the editor page (check as you type, save,
   test, history with diffs and rollback). Every value is written as text (qg.el), never as HTML. */
"use strict";
(() => {
  const { api, el, show, flash, time, root } = qg;
  const enc = (file) => file.split("/").map(encodeURIComponent).join("/");
  const editLink = (file) => `${root}/playbooks/edit?file=${encodeURIComponent(file)}`;

  async function listPage() {
    let data;
    try {
      data = await api("/api/playbooks");
    } catch (error) {
      flash("#status", error.message, "error");
      return;
    }
    const rows = data.playbooks;
    function switchButton(pb) {
      const allowed = pb.on ? data.can_disable : data.can_enable;
      return el("button", {
        type: "button",
        class: `switch${pb.on ? " on" : ""}`,
        role: "switch",
        "aria-checked": pb.on ? "true" : "false",
        "aria-label": `${pb.id} ${pb.on ? "已开" : "已关"}`,
        disabled: !allowed,
        title: allowed ? (pb.on ? "点一下停用" : "点一下启用") : "需要管理员权限",
        onclick: async () => {
          try {
            const done = await api(`/api/playbooks/${encodeURIComponent(pb.id)}/${pb.on ? "disable" : "enable"}`, { method: "POST", body: {} });
            flash("#status", `已${done.on ? "启用" : "停用"}剧本「${pb.title}」（${pb.id}）`, "ok");
            listPage();
          } catch (error) {
            flash("#status", error.message, "error");
          }
        },
      }, pb.on ? "开" : "关");
    }
    show("#playbooks", qg.table(
      ["开关", "剧本", "文件", "最近运行", "24 小时运行", "24 小时失败"],
      rows,
      (pb) => [
        switchButton(pb),
        el("span", {}, el("b", {}, pb.title), " ", el("span", { class: "muted" }, pb.id), pb.old_version ? el("div", { class: "error" }, "文件有错误，运行的是上一个好版本") : null),
        data.editable ? el("a", { href: editLink(pb.file) }, pb.file) : pb.file,
        pb.last_run ? time(pb.last_run) : el("span", { class: "muted" }, "没有运行过"),
        String(pb.runs),
        el("span", { class: pb.failures ? "error" : "" }, String(pb.failures)),
      ],
    ));
    if (!data.editable) {
      show("#files", el("p", { class: "muted" }, "这个后台没有剧本文件夹，不能在这里编辑。"));
    } else {
      show("#files", el("ul", { class: "files" }, data.files.map((f) => el("li", {}, el("a", { href: editLink(f) }, f)))),
        data.can_save ? el("a", { class: "new", href: `${root}/playbooks/edit` }, "＋ 新建剧本文件") : null);
    }
    show("#problems", data.problems.length ? el("div", {}, el("h2", {}, "文件里的错误"),
      el("ul", { class: "problems" }, data.problems.map((p) => el("li", { class: "error" }, `${p.path}:${p.line}:${p.col}：${p.message}`)))) : "");
  }

  async function editPage() {
    const params = new URLSearchParams(location.search);
    const fileInput = document.getElementById("file");
    let file = params.get("file") || "";
    let base = null; /* hash of the text opened: a save refuses when the file changed on disk meanwhile */
    fileInput.value = file;
    fileInput.readOnly = !!file;
    const [schema, listing] = await Promise.all([api("/api/schema").catch(() => null), api("/api/playbooks")]);
    const canSave = listing.can_save && listing.editable;
    const save = document.getElementById("save");
    save.hidden = !canSave;
    let opened = { text: "id: my-playbook\nname: 新剧本\nwhen:\n  - message: {text: 你好}\ndo:\n  - reply: 你好呀\n", hash: null, scenarios: [] };
    if (file) {
      try {
        opened = await api(`/api/playbooks/${enc(file)}`);
      } catch (error) {
        flash("#status", error.message, "error");
        return;
      }
    }
    base = opened.hash;
    const editor = qgEditor.create(document.getElementById("text"), {
      text: opened.text,
      schema,
      check: (text) => api("/api/check", { method: "POST", body: file ? { text, file } : { text } }),
      onRefuse: (text) => flash("#status", text, "error"),
      onProblems: (answer, error) => {
        if (error) { flash("#status", error.message, "error"); return; }
        const own = answer.problems.filter((p) => !p.warning).length;
        const lines = [
          ...answer.problems.map((p) => el("li", { class: p.warning ? "warn" : "error" }, `第 ${p.line} 行第 ${p.col} 列：${p.message}`)),
          ...answer.elsewhere.map((p) => el("li", { class: "error" }, `会让 ${p.path} 出错（第 ${p.line} 行第 ${p.col} 列）：${p.message}`)),
        ];
        show("#problems", lines.length ? el("ul", {}, lines) : "");
        if (answer.ok) flash("#status", answer.problems.length ? `检查通过（${answer.problems.length} 条警告）` : "检查通过，可以保存", "ok");
        else flash("#status", `有 ${own + answer.elsewhere.length} 处错误，改好才能保存`, "error");
      },
    });
    scenarioPicker(opened.scenarios);
    versions();

    save.addEventListener("click", async () => {
      file = file || fileInput.value.trim();
      if (!file) { flash("#status", "请先写文件名，例如 my-drop.yaml", "error"); return; }
      await store(() => api(`/api/playbooks/${enc(file)}`, { method: "PUT", body: { text: editor.text, base } }), "已保存");
    });

    async function store(request, said) {
      save.disabled = true;
      try {
        const done = await request();
        base = done.hash;
        fileInput.value = file;
        fileInput.readOnly = true;
        history.replaceState(null, "", editLink(file));
        flash("#status", `${said}：${done.reload.join("；")}`, "ok");
        show("#problems", "");
        await versions();
      } catch (error) {
        const data = error.data || {};
        if (data.problems) {
          flash("#status", "有错误，没有保存（文件、版本和运行中的剧本都没变）", "error");
          show("#problems", el("ul", {}, [...data.problems, ...data.elsewhere].map((p) => el("li", { class: p.warning ? "warn" : "error" }, `${p.path} 第 ${p.line} 行第 ${p.col} 列：${p.message}`))));
        } else {
          flash("#status", error.message, "error");
        }
      } finally {
        save.disabled = false;
      }
    }

    function scenarioPicker(list) {
      show("#scenarios", list.length ? el("ul", { class: "picks" }, list.map((s) => el("li", {},
        el("label", {}, el("input", { type: "checkbox", value: s.name, checked: s.related }), " ", s.name)))) : el("p", { class: "muted" }, "没有场景文件（playbooks/tests/），可以在下面输入一个。"));
    }

    document.getElementById("run").addEventListener("click", async () => {
      if (!file) { flash("#results", "请先保存文件再测试", "error"); return; }
      const names = [...document.querySelectorAll("#scenarios input:checked")].map((i) => i.value);
      const typed = document.getElementById("scenario").value.trim();
      const run = document.getElementById("run");
      run.disabled = true;
      flash("#results", "正在运行……");
      try {
        const out = await api(`/api/playbooks/${enc(file)}/test`, { method: "POST", body: { text: editor.text, scenarios: names, ...(typed ? { scenario: typed } : {}) } });
        const passed = out.results.filter((r) => r.passed).length;
        show("#results",
          el("p", { class: passed === out.results.length && !out.scenario_problems.length ? "ok" : "error" }, `${passed} 个通过，${out.results.length - passed} 个失败`),
          el("ul", { class: "results" }, out.results.map((r) => el("li", { class: r.passed ? "pass" : "fail" },
            el("b", {}, r.passed ? "通过 " : "失败 "), r.name, el("span", { class: "muted" }, ` （${r.path}）`),
            r.detail.length ? el("pre", {}, r.detail.join("\n")) : null))),
          out.scenario_problems.length ? el("ul", {}, out.scenario_problems.map((p) => el("li", { class: "error" }, `${p.path} 第 ${p.line} 行第 ${p.col} 列：${p.message}`))) : "");
      } catch (error) {
        const data = error.data || {};
        flash("#results", data.problems ? "剧本有错误，先改好再测试" : error.message, "error");
      } finally {
        run.disabled = false;
      }
    });

    async function versions() {
      if (!file) return;
      let out;
      try {
        out = await api(`/api/playbooks/${enc(file)}/versions`);
      } catch (error) {
        flash("#versions", error.message, "error");
        return;
      }
      show("#versions", out.versions.length ? el("ol", { class: "versions" }, out.versions.map((v, i) => {
        const diff = el("div", { class: "diff", hidden: true }, v.diff.map((d) => el("div", { class: `d d-${{ "+": "add", "-": "del", "@": "hunk" }[d.kind] || "same"}` }, `${d.kind === "@" ? "@" : d.kind}${d.text}`)));
        const back = canSave && i > 0 ? el("button", {
          type: "button", class: "rollback",
          onclick: async (event) => {
            const button = event.currentTarget;
            if (!button.dataset.sure) { button.dataset.sure = "1"; button.textContent = "确定回滚到这一版？"; return; }
            await store(() => api(`/api/playbooks/${enc(file)}/rollback`, { method: "POST", body: { version: v.id } }), `已回滚到 ${time(v.at)} 的版本`);
            const opened = await api(`/api/playbooks/${enc(file)}`);
            editor.text = opened.text;
            base = opened.hash;
          },
        }, "回滚到这一版") : null;
        return el("li", { class: "version" },
          el("div", { class: "vhead" }, el("b", {}, time(v.at)), " ", el("span", { class: "muted" }, v.by), i === 0 ? el("span", { class: "ok" }, " 最新") : null, " ",
            el("button", { type: "button", onclick: () => { diff.hidden = !diff.hidden; } }, "改动"), " ", back),
          diff);
      })) : el("p", { class: "muted" }, "还没有版本"));
    }
  }

  if (document.getElementById("text")) editPage(); else listPage();
})();
