/* The playbook editor: CodeMirror 5 with YAML highlighting, completion of the keys the JSON Schema allows at the
   cursor (action, trigger and condition names, their keys), the server's check as you type (every problem under
   its line), and a size guard: a paste that would make the file bigger than a playbook may be is refused. */
"use strict";
const qgEditor = (() => {
  const LIMIT = 1024 * 1024; /* bytes of one playbook file, as the loader allows */
  const bytes = (text) => new Blob([text]).size;
  const mb = (n) => (n / 1024 / 1024).toFixed(1);

  /* The schema nodes a value may be: $ref followed, anyOf/oneOf/allOf spread. */
  function resolver(schema) {
    const defs = schema.definitions || {};
    function resolve(node, out, depth) {
      if (!node || typeof node !== "object" || depth > 30) return out;
      if (node.$ref) return resolve(defs[node.$ref.replace("#/definitions/", "")], out, depth + 1);
      for (const key of ["anyOf", "oneOf", "allOf"]) for (const n of node[key] || []) resolve(n, out, depth + 1);
      out.push(node);
      return out;
    }
    return (node) => resolve(node, [], 0);
  }

  /* The keys a mapping at `path` (keys and 0 for list items) may have. */
  function keysAt(schema, path) {
    const resolve = resolver(schema);
    let nodes = resolve(schema);
    if (typeof path[0] === "number") path = path.slice(1); /* a file of several playbooks: a list of them */
    for (const seg of path) {
      const next = [];
      for (const n of nodes) {
        if (typeof seg === "number") {
          if (n.items && typeof n.items === "object") next.push(...resolve(n.items));
        } else if (n.properties && n.properties[seg]) next.push(...resolve(n.properties[seg]));
        else if (n.additionalProperties && typeof n.additionalProperties === "object") next.push(...resolve(n.additionalProperties));
      }
      nodes = next;
    }
    const keys = new Set();
    const named = new Set(); /* required keys: an action's, a trigger's or a condition's name */
    for (const n of nodes) {
      for (const k of Object.keys(n.properties || {})) keys.add(k);
      for (const k of n.required || []) named.add(k);
    }
    return [...keys].sort((a, b) => (named.has(b) - named.has(a)) || (a < b ? -1 : a > b ? 1 : 0));
  }

  const LINE = /^(\s*)((?:-\s+)*)(?:([^\s:#'"{[][^:#]*?)\s*:(?:\s|$))?/;

  /* The mapping the key being typed on `lineNo` belongs to, found by indentation: ["do", 0, "reply"]. `indent` is
     where the line's first dash or key starts; its dashes are list items of their own. */
  function pathAt(cm, lineNo, indent, dashes) {
    const path = [];
    let limit = indent;
    for (let i = lineNo - 1; i >= 0 && limit > 0; i--) {
      const text = cm.getLine(i);
      if (/^\s*(#.*)?$/.test(text)) continue;
      const m = LINE.exec(text);
      const start = m[1].length;
      if (start >= limit) continue;
      const tokens = [];
      let col = start;
      for (const dash of m[2].match(/-\s+/g) || []) { tokens.push({ col, item: true }); col += dash.length; }
      if (m[3] !== undefined) tokens.push({ col, key: m[3] });
      path.unshift(...tokens.filter((t) => t.col < limit).map((t) => (t.item ? 0 : t.key)));
      limit = start;
    }
    return path.concat(Array((dashes.match(/-/g) || []).length).fill(0));
  }

  function create(textarea, { text, schema, check, onRefuse, onProblems, readOnly }) {
    let widgets = [];
    let asked = 0;
    let size = bytes(text);
    let refused = ""; /* the last paste refused, until the next edit */
    textarea.value = text; /* the first check is of the file, not of an empty editor */
    function hint(cm) {
      const cur = cm.getCursor();
      const m = /^(\s*)((?:-\s+)*)([A-Za-z_][\w-]*|)$/.exec(cm.getLine(cur.line).slice(0, cur.ch));
      if (!m || !schema) return null;
      const word = m[3];
      const list = keysAt(schema, pathAt(cm, cur.line, m[1].length, m[2]))
        .filter((k) => k.startsWith(word) && k !== word)
        .map((k) => ({ text: `${k}: `, displayText: k }));
      if (!list.length) return null;
      return { list, from: CodeMirror.Pos(cur.line, cur.ch - word.length), to: cur };
    }
    function showUnder(cm, problems) {
      cm.operation(() => {
        for (const w of widgets) w.clear();
        widgets = problems.map((p) => {
          const line = Math.min(Math.max(p.line - 1, 0), cm.lineCount() - 1);
          const node = qg.el("div", { class: `pb-problem${p.warning ? " warn" : ""}` }, `第 ${p.line} 行第 ${p.col} 列：${p.message}`);
          return cm.addLineWidget(line, node, { coverGutter: false, noHScroll: true });
        });
      });
    }
    async function lint(text, done, _options, cm) {
      const mine = ++asked;
      let answer;
      try {
        answer = await check(text);
      } catch (error) {
        if (mine === asked) { showUnder(cm, []); onProblems(null, error); done([]); }
        return;
      }
      if (mine !== asked) return; /* a later edit was sent meanwhile: its answer counts */
      showUnder(cm, answer.problems);
      onProblems(answer, null);
      if (refused) onRefuse(refused); /* a paste refused since the last edit stays said: the check came later */
      done(answer.problems.map((p) => ({
        from: CodeMirror.Pos(p.line - 1, p.col - 1),
        to: CodeMirror.Pos(p.line - 1, p.col),
        message: p.message,
        severity: p.warning ? "warning" : "error",
      })));
    }
    const cm = CodeMirror.fromTextArea(textarea, {
      mode: "yaml",
      lineNumbers: true,
      indentUnit: 2,
      tabSize: 2,
      readOnly: !!readOnly,
      extraKeys: { "Ctrl-Space": "autocomplete", Tab: (c) => c.replaceSelection("  ") },
      gutters: ["CodeMirror-lint-markers"],
      lint: { getAnnotations: lint, async: true, delay: 400 },
      hintOptions: { hint, completeSingle: false },
      viewportMargin: 20,
    });
    cm.on("beforeChange", (_cm, change) => {
      if (change.origin === "setValue" || !change.update) return;
      const added = bytes(change.text.join("\n"));
      if (size + added > LIMIT) {
        change.cancel();
        refused = `内容太大（${mb(size + added)} MB）：一个剧本文件最多 1 MB，这次粘贴没有放进来。请检查是否复制了别的内容。`;
        onRefuse(refused);
      }
    });
    cm.on("change", () => { size = bytes(cm.getValue()); refused = ""; });
    cm.on("inputRead", (c, change) => {
      if (/^[A-Za-z_]$/.test(change.text[0] || "") && !c.state.completionActive) c.showHint({ completeSingle: false });
    });
    return {
      cm,
      get text() { return cm.getValue(); },
      set text(value) { cm.setValue(value); size = bytes(value); cm.clearHistory(); },
      recheck() { cm.performLint(); },
    };
  }
  return { create, keysAt, LIMIT };
})();
