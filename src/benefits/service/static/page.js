/* The settlement page: reads a claim (pasted, uploaded or filled in), settles it with POST /trace,
 * and draws the payout from the total through each fund to the cash the patient pays.
 *
 * Amounts are the strings the API answers, shown as they are: no amount is ever computed here.
 * Number() is used for one thing only, the proportions of the picture's bars.
 *
 * The address may carry a claim, so that a link (or a test) opens a settled slip:
 *   /page?lang=en&print=1#pack=jiangmen&claim=<URI-encoded YAML or JSON>&acc=<URI-encoded>
 */
(function () {
  "use strict";

  var T = {
    zh: {
      title: "医保结算", pack: "规则包", tab_text: "粘贴 / 上传", tab_form: "填写",
      claim_text: "结算申请（YAML 或 JSON）", upload: "上传文件", accumulators: "本年累计（可选）",
      acc_text: "累计值（YAML 或 JSON；空 = 本年尚无）", submit: "结算", print: "打印结算单",
      print_trace: "打印时附计算过程", slip_title: "医疗费用结算单", picture: "基金支付与个人负担",
      amounts: "结算信息（setlinfo）", funds: "基金分项（setldetail）", reasons: "个人负担构成",
      cashier: "收款员", patient_sign: "参保人（签字）", printed: "打印时间", trace: "计算过程",
      f_id: "单据号", f_member: "参保人编号", f_scheme: "险种", f_member_type: "人员类别",
      f_groups: "特殊身份（逗号分隔）", f_visit: "就诊类型", f_level: "医院等级", f_admission: "入院日期",
      f_discharge: "出院日期", f_diagnoses: "诊断（ICD-10，逗号分隔）", f_total: "费用总额", f_fully: "全自费",
      f_over: "超限价", f_pre: "先行自付", f_policy: "政策范围内",
      resident: "居民", employee: "职工", adult: "成年居民", child: "未成年人", student: "学生",
      in_service: "在职", retired: "退休",
      settling: "正在结算……", done: "已结算", failed: "未能结算", no_claim: "请粘贴、上传或填写结算申请",
      edited: "申请已修改，请重新结算",
      total: "医疗费用总额", patient: "个人负担", cash: "个人现金支付", line: "第 {n} 行",
      claim_id: "单据号", member: "参保人", scheme: "险种", visit: "就诊类型", level: "医院等级",
      version: "政策版本", deciding_date: "适用日期", admission: "入院日期", discharge: "出院日期", date: "就诊日期",
      item: "项目", code: "代码", amount: "金额（元）", fund_type: "基金类型", name: "名称",
      base: "政策范围内", limit: "本次可支付限额", paid: "支付", no_cap: "不设限额",
      inputs: "输入", formula: "算式", output: "结果", cites: "参数", where: "规则位置", assumed: "（假设，待正式文件）",
      fully_self_paid: "全自费", over_limit: "超限价", pre_self_paid: "先行自付", deductible: "起付线",
      co_pay: "按比例自付", above_cap: "超封顶", relieved_by_later_layers: "基本统筹以外各项基金支付",
      co_pay_no_basic: "政策范围内（无基本统筹支付）",
      account: "个人账户支付", because: "其中", unknown_pack: "未知规则包“{pack}”；本服务有：{packs}"
    },
    en: {
      title: "Medical-insurance settlement", pack: "Rule pack", tab_text: "Paste / upload", tab_form: "Form",
      claim_text: "Claim (YAML or JSON)", upload: "Upload a file", accumulators: "Accumulators this year (optional)",
      acc_text: "Accumulators (YAML or JSON; empty = nothing used yet)", submit: "Settle", print: "Print the slip",
      print_trace: "Print the trace too", slip_title: "Settlement slip", picture: "What the funds paid and what the patient pays",
      amounts: "Amounts (setlinfo)", funds: "Funds (setldetail)", reasons: "Why the patient pays this",
      cashier: "Cashier", patient_sign: "Patient (signature)", printed: "Printed", trace: "How it was computed",
      f_id: "Claim id", f_member: "Member id", f_scheme: "Scheme", f_member_type: "Member type",
      f_groups: "Groups (comma-separated)", f_visit: "Visit", f_level: "Hospital level", f_admission: "Admission",
      f_discharge: "Discharge", f_diagnoses: "Diagnoses (ICD-10, comma-separated)", f_total: "Total",
      f_fully: "Fully self-paid", f_over: "Over limit", f_pre: "Pre-self-paid", f_policy: "Policy range",
      resident: "resident", employee: "employee", adult: "adult", child: "child", student: "student",
      in_service: "in service", retired: "retired",
      settling: "Settling…", done: "Settled", failed: "Not settled", no_claim: "Paste, upload or fill in a claim",
      edited: "The claim was changed: settle again",
      total: "Total", patient: "Patient's part", cash: "Cash", line: "line {n}",
      claim_id: "Claim", member: "Member", scheme: "Scheme", visit: "Visit", level: "Level",
      version: "Version", deciding_date: "Deciding date", admission: "Admission", discharge: "Discharge", date: "Date",
      item: "Item", code: "Field", amount: "Amount (yuan)", fund_type: "Fund type", name: "Name",
      base: "Policy range", limit: "Cap left", paid: "Paid", no_cap: "no cap",
      inputs: "inputs", formula: "formula", output: "result", cites: "parameters", where: "rule at",
      assumed: "(assumed, awaiting a published source)",
      fully_self_paid: "Fully self-paid", over_limit: "Over the price limit", pre_self_paid: "Pre-self-paid (B)",
      deductible: "Deductible", co_pay: "Co-pay", above_cap: "Above the cap",
      co_pay_no_basic: "Policy range (no basic fund applied)",
      relieved_by_later_layers: "paid by funds other than the basic fund", account: "Personal account",
      because: "of which", unknown_pack: "unknown rule pack '{pack}'; this service has: {packs}"
    }
  };
  var REASONS = ["fully_self_paid", "over_limit", "pre_self_paid", "deductible", "co_pay", "above_cap"];
  var COLOURS = ["#2f6fb3", "#3f9b6a", "#c4862a", "#8a5cb8", "#2a9bb0", "#b5564f", "#6d7f2e", "#9c6b3c"];
  var ACCOUNT = "#c9a227", CASH = "#d1495b", TOTAL = "#7a8590";

  var params = new URLSearchParams(location.search);
  /* seq: the number of the latest settle; an answer to an earlier one is dropped, never drawn. */
  var state = {lang: params.get("lang") === "en" ? "en" : "zh", packs: [], labels: {}, result: null, lines: {}, seq: 0};
  var $ = function (id) { return document.getElementById(id); };

  function t(key) { return (T[state.lang] && T[state.lang][key]) || T.zh[key] || key; }
  // A text with its {name}s filled in one pass: String.replace reads $& and $' in a replacement string, and a
  // second replace would fill a {packs} that the first put in from a link
  function tf(key, values) {
    return t(key).replace(/\{(\w+)\}/g, function (all, name) { return name in values ? String(values[name]) : all; });
  }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) { if (attrs[k] != null) e.setAttribute(k, attrs[k]); }
    if (text != null) e.textContent = text;
    return e;
  }
  function svg(tag, attrs, text) {
    var e = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (var k in attrs || {}) { if (attrs[k] != null) e.setAttribute(k, attrs[k]); }
    if (text != null) e.textContent = text;
    return e;
  }
  function isZero(s) { return /^[-+]?0*(\.0*)?$/.test(String(s)); }
  /* A proportion for drawing only (0..1), never shown. */
  function share(part, whole) {
    var w = Number(whole), p = Number(part);
    if (!(w > 0) || !(p > 0)) return 0;
    return Math.min(1, p / w);
  }

  // --- language ------------------------------------------------------------------------------------

  function applyLanguage() {
    document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
    document.title = t("slip_title") + " · " + t("title");
    document.querySelectorAll("[data-t]").forEach(function (n) { n.textContent = t(n.getAttribute("data-t")); });
    $("lang-zh").classList.toggle("on", state.lang === "zh");
    $("lang-en").classList.toggle("on", state.lang === "en");
    fillPackChoices();
    $("status").textContent = state.status ? t(state.status) : "";
    if (state.result) render(state.result);
  }

  // --- packs ---------------------------------------------------------------------------------------

  function loadPacks() {
    return fetch("/packs").then(function (r) { return r.json(); }).then(function (body) {
      state.packs = body.packs || [];
      state.labels = body.setlinfo || {};
      var select = $("pack");
      select.textContent = "";
      state.packs.forEach(function (p) {
        select.appendChild(el("option", {value: p.name}, p.name + " — " + p.title));
      });
      fillPackChoices();
    });
  }

  function currentPack() {
    var name = $("pack").value;
    return state.packs.filter(function (p) { return p.name === name; })[0];
  }

  function fillPackChoices() {
    var p = currentPack();
    if (!p) return;
    [["f-visit", p.visits], ["f-level", p.levels]].forEach(function (pair) {
      var select = $(pair[0]), keep = select.value;
      select.textContent = "";
      pair[1].forEach(function (v) { select.appendChild(el("option", {value: v}, v)); });
      if (pair[1].indexOf(keep) >= 0) select.value = keep;
    });
  }

  // --- reading the claim -----------------------------------------------------------------------------

  function post(path, body) {
    return fetch(path, {method: "POST", headers: {"content-type": "application/json", "accept": "application/json"},
                        body: JSON.stringify(body)})
      .then(function (r) {
        return r.text().then(function (text) {
          var data;
          try { data = JSON.parse(text); } catch (e) { data = {detail: text}; }
          if (!r.ok) { var err = new Error(data.detail || r.statusText); err.problem = data; throw err; }
          return data;
        });
      });
  }

  /* Text (YAML or JSON) read by the server's reader: numbers stay exact, amounts come back as text. */
  function parse(text, name) {
    return post("/page/parse", {text: text, name: name}).catch(function (err) {
      if (err.problem) err.problem.source = name;
      throw err;
    });
  }

  function list(text) {
    return text.split(/[,，\s]+/).map(function (s) { return s.trim(); }).filter(Boolean);
  }

  function formClaim() {
    var visit = $("f-visit").value, claim = {
      id: $("f-id").value.trim(),
      member: {id: $("f-member").value.trim(), scheme: $("f-scheme").value, member_type: $("f-member-type").value,
               groups: list($("f-groups").value)},
      visit: visit, level: $("f-level").value,
      diagnoses: list($("f-diagnoses").value),
      bill: {total: $("f-total").value.trim(), fully_self_paid: $("f-fully").value.trim(),
             over_limit: $("f-over").value.trim(), pre_self_paid: $("f-pre").value.trim(),
             policy_range: $("f-policy").value.trim()}
    };
    if (/outpatient|covid/.test(visit)) {
      claim.date = $("f-admission").value;
    } else {
      claim.admission_date = $("f-admission").value;
      claim.discharge_date = $("f-discharge").value;
    }
    return claim;
  }

  function readInputs() {
    var useForm = !$("pane-form").hidden;
    var claimText = $("claim-text").value, accText = $("acc-text").value;
    var claim = useForm ? Promise.resolve({data: formClaim(), lines: {}})
      : (claimText.trim() ? parse(claimText, "claim") : Promise.reject(new Error(t("no_claim"))));
    var acc = accText.trim() ? parse(accText, "accumulators") : Promise.resolve(null);
    return Promise.all([claim, acc]);
  }

  /* Settle what the form holds now. The slip on screen is always the answer to the latest settle:
   * an earlier one is taken down first (nothing stale can be printed) and its late answer dropped. */
  function settle() {
    var pack = $("pack").value, seq = ++state.seq;
    var latest = function () { return seq === state.seq; };
    clearResult();
    setStatus("settling", "busy");
    $("problems").hidden = true;
    return readInputs().then(function (read) {
      if (!latest()) return null;
      state.lines = {claim: read[0].lines, accumulators: read[1] ? read[1].lines : {}};
      var body = {pack: pack, claim: read[0].data};
      if (read[1]) body.accumulators = read[1].data;
      return Promise.all([post("/trace?explain=true", body), Promise.resolve(body)]);
    }).then(function (answers) {
      if (!answers || !latest()) return;
      state.result = {settlement: answers[0], request: answers[1], at: new Date()};
      render(state.result);
      setStatus("done", "done");
      $("print").disabled = false;
    }).catch(function (err) {
      if (!latest()) return;
      showProblem(err);
      setStatus("failed", "error");
    });
  }

  /* A slip answers what the form held when it was settled: an edit since (the claim, the accumulators, the
   * pack, the pane, a file read in) takes it down, and a settle still running is answered for the old
   * input, so its answer is dropped. An old slip printed as the new claim's would be the wrong money. */
  function edited(e) {
    if (e && e.target === $("print-trace")) return;  // how the slip prints, not what it says
    var busy = document.body.getAttribute("data-state") === "busy";
    if (!state.result && !busy) return;
    state.seq++;
    clearResult();
    setStatus("edited", "idle");
  }

  function clearResult() {
    state.result = null;
    $("slip").hidden = true;
    $("trace").hidden = true;
    $("print").disabled = true;
  }

  /* The status line, by its key: written again in the other language when the language is switched. */
  function setStatus(key, kind) {
    state.status = key;
    $("status").textContent = key ? t(key) : "";
    document.body.setAttribute("data-state", kind);
  }

  /* A problem's title in the page's language (the service writes it in English); its detail and each
     problem's message are the engine's own words, with the field's path. */
  var TITLES_ZH = {
    "malformed-json": "申请内容无法读取", "payload-too-large": "申请内容过大", "invalid-request": "请求有误",
    "invalid-claim": "该申请无法结算", "not-found": "未找到", "not-ready": "服务尚未就绪，请稍后再试",
    "store-unavailable": "暂时无法连接结算台账", "internal-error": "系统内部错误（程序缺陷，并非输入有误）"
  };

  function problemTitle(p) {
    var kind = String(p.type || "").split("/").pop();
    if (state.lang === "zh" && TITLES_ZH[kind]) return TITLES_ZH[kind] + "：";
    return p.title ? p.title + ": " : "";
  }

  function showProblem(err) {
    var box = $("problems"), p = err.problem || {detail: err.message, problems: []};
    box.textContent = "";
    box.appendChild(el("p", {"class": "detail"}, problemTitle(p) + (p.detail || err.message)));
    var ul = el("ul");
    (p.problems || []).forEach(function (item) {
      var path = (item.path || []).join("."), li = el("li", {"class": "problem", "data-path": path});
      var line = item.line || lineOf(item.path || [], p.source);
      li.appendChild(el("code", null, path || "—"));
      li.appendChild(document.createTextNode(" " + item.message));
      if (line) li.appendChild(el("span", {"class": "where"}, " (" + (p.source || item.path[0] || "") + " " +
                                                               tf("line", {n: line}) + ")"));
      ul.appendChild(li);
    });
    box.appendChild(ul);
    box.hidden = false;
  }

  /* The line of a problem's path in the text it came from ([claim, bill, total] -> the claim's line). */
  function lineOf(path, source) {
    var where = source || path[0], lines = state.lines && state.lines[where];
    if (!lines) return null;
    var rest = source ? path : path.slice(1);
    for (var n = rest.length; n > 0; n--) {
      var key = rest.slice(0, n).join(".");
      if (lines[key]) return lines[key];
    }
    return null;
  }

  // --- the result ----------------------------------------------------------------------------------

  function render(result) {
    var s = result.settlement;
    $("slip").hidden = false;
    $("trace").hidden = false;
    renderMeta(s, result.request);
    renderChart(s);
    renderSetlinfo(s.setlinfo);
    renderSetldetail(s.setldetail, s);
    renderReasons(s);
    renderTrace((s.explained || {})[state.lang] || []);
    stamp(result.at);
  }

  /* The slip's "printed" time: when it was settled, and again when it is printed. */
  function stamp(at) {
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    $("printed-at").textContent = at.getFullYear() + "-" + two(at.getMonth() + 1) + "-" + two(at.getDate()) + " " +
                                  two(at.getHours()) + ":" + two(at.getMinutes());
  }

  /* An id of the claim (scheme, visit, level) as the reader's language names it. */
  function word(v, pack) {
    if (state.lang === "zh" && pack && pack.words && pack.words[v]) return pack.words[v];
    return T[state.lang][v] || v;
  }

  function renderMeta(s, request) {
    var claim = request.claim || {}, member = claim.member || {}, dl = $("slip-meta");
    var pack = state.packs.filter(function (p) { return p.name === s.pack; })[0];
    var rows = [["claim_id", s.claim_id], ["member", member.id], ["scheme", word(member.scheme, pack)],
                ["visit", word(claim.visit, pack)], ["level", word(claim.level, pack)],
                ["pack", s.pack + (pack ? " · " + pack.title : "")], ["version", s.version],
                ["deciding_date", s.deciding_date]];
    if (claim.admission_date) rows.push(["admission", claim.admission_date]);
    if (claim.discharge_date) rows.push(["discharge", claim.discharge_date]);
    if (claim.date) rows.push(["date", claim.date]);
    dl.textContent = "";
    rows.forEach(function (r) {
      var div = el("div", {"data-field": r[0]});
      div.appendChild(el("dt", null, t(r[0])));
      div.appendChild(el("dd", null, r[1] == null ? "—" : String(r[1])));
      dl.appendChild(div);
    });
  }

  /* The segments, in paying order: each fund that paid, then the personal account, then cash. */
  function segments(s) {
    var out = [], colour = 0;
    (s.layers || []).forEach(function (p) {
      if (!p.applied || isZero(p.paid)) return;
      var name = state.lang === "zh" ? p.name_zh : p.name_en;
      if (p.fund) out.push({kind: "fund", layer: p.layer, name: name, amount: p.paid, colour: COLOURS[colour++ % COLOURS.length]});
    });
    (s.layers || []).forEach(function (p) {
      if (!p.applied || isZero(p.paid) || p.fund) return;
      out.push({kind: "account", layer: p.layer, name: state.lang === "zh" ? p.name_zh : p.name_en,
                amount: p.paid, colour: ACCOUNT});
    });
    out.push({kind: "cash", layer: "cash", name: t("cash"), amount: s.patient.cash, colour: CASH});
    return out;
  }

  /* The reasons the patient pays, as lines of text under the patient's bar. */
  function reasonLines(s) {
    var patient = s.patient;
    var parts = REASONS.filter(function (k) { return !isZero(patient[k]); })
      .map(function (k) { return reasonName(k, s) + " " + patient[k]; });
    var lines = [];
    for (var i = 0; i < parts.length; i += 3) {  // three reasons a line, to stay within the picture
      lines.push((i ? "" : t("because") + ": ") + parts.slice(i, i + 3).join(" · "));
    }
    if (!isZero(patient.relieved_by_later_layers)) {
      lines.push(t("relieved_by_later_layers") + " -" + patient.relieved_by_later_layers);  // the reasons less it: the total
    }
    return lines;
  }

  function renderChart(s) {
    var total = s.bill.total, segs = segments(s), box = $("chart");
    var W = 820, left = 200, barW = 480, rowH = 34, gap = 10;
    var root = svg("svg", {viewBox: "0 0 " + W + " 400", width: "100%", role: "img", "class": "waterfall",
                           "aria-label": t("picture"), "data-total": total});
    root.appendChild(svg("title", null, t("picture")));

    // one stacked bar: the whole bill, split in paying order
    var x = 0, y = 8, stack = svg("g", {"class": "stack"});
    segs.forEach(function (seg) {
      var w = share(seg.amount, total) * (W - 2);
      stack.appendChild(svg("rect", {x: 1 + x, y: y, width: w, height: 30, fill: seg.colour, "data-layer": seg.layer}));
      if (w > 70) {
        stack.appendChild(svg("text", {x: 1 + x + w / 2, y: y + 20, "text-anchor": "middle", "class": "in"}, seg.amount));
      }
      x += w;
    });
    root.appendChild(stack);

    // the waterfall: the total, then each payer's part where it falls in the total
    y = 60;
    function row(cls, label, sub, from, width, colour, amount, attrs) {
      var g = svg("g", Object.assign({"class": cls, "data-amount": amount}, attrs || {}));
      var name = svg("text", {x: left - 10, y: y + 22, "text-anchor": "end", "class": "label"},
                     label.length > 26 ? label.slice(0, 25) + "…" : label);
      name.appendChild(svg("title", null, label));
      g.appendChild(name);
      g.appendChild(svg("rect", {x: left + from * barW, y: y + 4, width: Math.max(width * barW, 1), height: rowH - 8,
                                 fill: colour, rx: 2}));
      g.appendChild(svg("line", {x1: left + from * barW, x2: left + from * barW, y1: y - gap, y2: y + rowH,
                                 "class": "tick"}));
      g.appendChild(svg("text", {x: left + barW + 10, y: y + 22, "class": "amount"}, amount));
      (sub || []).forEach(function (text) {  // the reasons, each on a line of its own under the bar
        g.appendChild(svg("text", {x: left, y: y + rowH + 8, "class": "sub"}, text));
        y += 16;
      });
      root.appendChild(g);
      y += rowH + gap;
      return g;
    }
    row("seg total", t("total"), null, 0, 1, TOTAL, total, {"data-layer": "total", "data-kind": "total"});
    var from = 0, funds = segs.filter(function (g) { return g.kind === "fund"; });
    funds.forEach(function (seg) {
      var w = share(seg.amount, total);
      row("seg", seg.name, null, from, w, seg.colour, seg.amount, {"data-layer": seg.layer, "data-kind": seg.kind});
      from += w;
    });
    var patientFrom = 1 - share(s.patient.total, total);
    row("seg patient", t("patient"), reasonLines(s), patientFrom, 1 - patientFrom, "#b9bec4", s.patient.total,
        {"data-layer": "patient", "data-kind": "patient"});
    from = patientFrom;
    segs.filter(function (g) { return g.kind !== "fund"; }).forEach(function (seg) {
      var w = share(seg.amount, total);
      row("seg", seg.name, null, from, w, seg.colour, seg.amount, {"data-layer": seg.layer, "data-kind": seg.kind});
      from += w;
    });
    root.setAttribute("viewBox", "0 0 " + W + " " + (y + 4));
    box.textContent = "";
    box.appendChild(root);
  }

  function table(node, head, rows) {
    node.textContent = "";
    var thead = el("thead"), tr = el("tr");
    head.forEach(function (h, i) { tr.appendChild(el("th", {"class": i === head.length - 1 ? "num" : null}, h)); });
    thead.appendChild(tr);
    node.appendChild(thead);
    var tbody = el("tbody");
    rows.forEach(function (r) {
      var tr = el("tr", r.attrs);
      r.cells.forEach(function (c, i) {
        tr.appendChild(el("td", {"class": i === r.cells.length - 1 ? "num" : null}, c == null ? "—" : String(c)));
      });
      tbody.appendChild(tr);
    });
    node.appendChild(tbody);
  }

  /* setlinfo's one field that is no amount: the basic fund's ratio (0.6500), shown as the percentage it is
     in a column of yuan, with the platform's value beside it. */
  var RATIO_FIELD = "pool_prop_selfpay";

  function percent(value) {
    var m = /^(\d+)\.(\d{4})$/.exec(value || "");
    if (!m) return value;
    var hundredths = parseInt(m[1] + m[2], 10);  // 0.6525 -> 6525: 65.25%, exact in integers
    var whole = Math.floor(hundredths / 100), rest = hundredths % 100;
    var pct = whole + (rest ? "." + String(rest).padStart(2, "0").replace(/0$/, "") : "");
    return state.lang === "zh" ? pct + "%（" + value + "）" : pct + "% (" + value + ")";
  }

  /* setlinfo: every field in the platform's order, labelled from GET /packs. */
  function renderSetlinfo(info) {
    table($("setlinfo"), [t("item"), t("code"), t("amount")], Object.keys(info).map(function (key) {
      var label = state.labels[key] || {zh: key, en: key}, value = info[key];
      return {attrs: {"data-key": key, "class": isZero(value) ? "zero" : null},
              cells: [state.lang === "zh" ? label.zh : label.en, key, key === RATIO_FIELD ? percent(value) : value]};
    }));
  }

  /* setldetail: a row per layer that applied, in the settlement's layer order. */
  function renderSetldetail(rows, s) {
    var applied = s.layers.filter(function (p) { return p.applied; });
    table($("setldetail"), [t("fund_type"), t("name"), t("base"), t("limit"), t("paid")], rows.map(function (r, i) {
      var layer = applied[i];
      return {attrs: {"data-layer": layer.layer},
              cells: [r.fund_pay_type || "—", state.lang === "zh" ? r.fund_pay_type_name : layer.name_en,
                      r.inscp_scp_amt, r.crt_payb_lmt_amt == null ? t("no_cap") : r.crt_payb_lmt_amt, r.fund_payamt]};
    }));
  }

  /* A reason's name: where no basic fund applied (maternity, a COVID test's finance share) the
     policy-range amount is no co-pay of one. */
  function reasonName(k, s) {
    return k === "co_pay" && s.ratio == null ? t("co_pay_no_basic") : t(k);
  }

  function renderReasons(s) {
    var patient = s.patient;
    var keys = REASONS.concat(["relieved_by_later_layers", "total", "account", "cash"]);
    var names = {total: t("patient"), account: t("account"), cash: t("cash")};
    table($("reasons"), [t("item"), t("amount")], keys.map(function (k) {
      return {attrs: {"data-key": k, "class": (isZero(patient[k]) ? "zero " : "") + (k === "total" ? "sum" : "")},
              cells: [names[k] || reasonName(k, s),
                      k === "relieved_by_later_layers" && !isZero(patient[k]) ? "-" + patient[k] : patient[k]]};
    }));
  }

  /* The trace as the service words it for the reader's language (POST /trace?explain=true, the text
     `benefits explain` prints): inputs named, formulas and results in the language, parameters by
     their description, in Chinese no English id; the rule and its file:line in English only. */
  function renderTrace(steps) {
    var ol = $("steps"), sep = state.lang === "zh" ? "，" : ", ";
    ol.textContent = "";
    steps.forEach(function (st) {
      var li = el("li", {"class": "step", "data-step": st.step});
      var head = el("div", {"class": "head"});
      if (st.rule) head.appendChild(el("code", {"class": "name"}, st.step));
      head.appendChild(el("span", {"class": "explain"}, st.explain));
      head.appendChild(el("span", {"class": "out"}, "→ " + st.output));
      li.appendChild(head);
      var inputs = (st.inputs || []).map(function (kv) { return kv[0] + " = " + kv[1]; }).join(sep);
      if (inputs) li.appendChild(el("div", {"class": "detail"}, t("inputs") + ": " + inputs));
      if (st.formula) li.appendChild(el("div", {"class": "detail formula"}, t("formula") + ": " + st.formula));
      (st.citations || []).forEach(function (c) {
        li.appendChild(el("div", {"class": "detail cite" + (c.assumed ? " assumed" : "")},
                          t("cites") + ": " + c.name + " = " + c.value + (c.assumed ? " " + t("assumed") : "") +
                          (c.source ? " (" + c.source + ")" : "")));
      });
      if (st.site) li.appendChild(el("div", {"class": "detail site"}, t("where") + ": " + st.site));
      ol.appendChild(li);
    });
  }

  // --- wiring --------------------------------------------------------------------------------------

  function readFile(input, target) {
    input.addEventListener("change", function () {
      var f = input.files && input.files[0];
      if (!f) return;
      f.text().then(function (text) { $(target).value = text; edited(); });
    });
  }

  function showTab(name) {
    $("pane-text").hidden = name !== "text";
    $("pane-form").hidden = name !== "form";
    $("tab-text").classList.toggle("on", name === "text");
    $("tab-form").classList.toggle("on", name === "form");
  }

  function setLang(lang) {
    state.lang = lang;
    var u = new URL(location.href);
    u.searchParams.set("lang", lang);
    history.replaceState(null, "", u.toString());
    applyLanguage();
  }

  function init() {
    if (params.get("print") === "1") document.body.classList.add("print");
    window.addEventListener("beforeprint", function () {
      document.body.classList.add("print");
      if (state.result) stamp(new Date());
    });
    window.addEventListener("afterprint", function () {
      if (params.get("print") !== "1") document.body.classList.remove("print");
    });
    $("print-trace").addEventListener("change", function () {
      document.body.classList.toggle("with-trace", $("print-trace").checked);
    });
    $("lang-zh").addEventListener("click", function () { setLang("zh"); });
    $("lang-en").addEventListener("click", function () { setLang("en"); });
    $("tab-text").addEventListener("click", function () { if ($("pane-text").hidden) edited(); showTab("text"); });
    $("tab-form").addEventListener("click", function () { if ($("pane-form").hidden) edited(); showTab("form"); });
    $("claim-form").addEventListener("input", edited);
    $("claim-form").addEventListener("change", edited);
    $("pack").addEventListener("change", fillPackChoices);
    $("print").addEventListener("click", function () { window.print(); });
    $("claim-form").addEventListener("submit", function (e) { e.preventDefault(); settle(); });
    readFile($("claim-file"), "claim-text");
    readFile($("acc-file"), "acc-text");
    showTab("text");
    applyLanguage();
    setStatus("", "idle");

    var hash = new URLSearchParams(location.hash.replace(/^#/, ""));
    loadPacks().then(function () {
      var wanted = hash.get("pack");
      if (wanted && !state.packs.some(function (p) { return p.name === wanted; })) {
        var names = state.packs.map(function (p) { return p.name; }).join(", ");
        showProblem(new Error(tf("unknown_pack", {pack: wanted, packs: names})));
        setStatus("failed", "error");
        return;
      }
      if (wanted) $("pack").value = wanted;
      fillPackChoices();
      if (hash.get("claim")) {
        $("claim-text").value = hash.get("claim");
        if (hash.get("acc")) { $("acc-text").value = hash.get("acc"); $("acc-box").open = true; }
        return settle();
      }
    }).catch(function (err) { showProblem(err); setStatus("failed", "error"); });
  }

  init();
})();
