// Amount fields (input[data-money]): under each, what the typed amount stands for in both
// units, "＝50,000.00 元＝5.00 万元", as the user types. It reads amounts as the server's one
// parser does (registry/core/parsing.py parse_amount): full-width digits, thousands commas,
// spaces, a leading ¥, a trailing 元, and 万 for ten thousand. Cents are counted in BigInt,
// so nothing is rounded by floating point. What it cannot read it leaves blank: the
// server's message on saving says why.
(function () {
  "use strict";
  var NUMBER = /^\+?(\d*)(?:\.(\d*))?$/;

  function cents(text) {
    var s = String(text || "").normalize("NFKC").replace(/[,\s]/g, "");
    if (s.charAt(0) === "¥") { s = s.slice(1); }
    if (s.slice(-1) === "元") { s = s.slice(0, -1); }
    var wan = s.slice(-1) === "万";
    if (wan) { s = s.slice(0, -1); }
    var m = NUMBER.exec(s);
    if (!m || (!m[1] && !m[2])) { return null; }
    var whole = m[1] || "0";
    var frac = m[2] || "";
    if (wan) {
      whole += (frac + "0000").slice(0, 4);
      frac = frac.slice(4);
    }
    frac = frac.replace(/0+$/, "");
    if (frac.length > 2) { return null; }
    return BigInt(whole) * 100n + BigInt((frac + "00").slice(0, 2));
  }

  function grouped(value) { // cents -> "12,345.67"
    var whole = (value / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    var rest = (value % 100n).toString();
    return whole + "." + (rest.length < 2 ? "0" + rest : rest);
  }

  function hint(text) {
    var value = cents(text);
    if (value === null) { return ""; }
    return "＝" + grouped(value) + " 元＝" + grouped((value + 5000n) / 10000n) + " 万元";
  }

  Array.prototype.forEach.call(document.querySelectorAll("input[data-money]"), function (input) {
    var out = document.querySelector("[data-money-hint='" + input.id + "']");
    if (!out) { return; }
    function update() { out.textContent = input.value.trim() ? hint(input.value) : ""; }
    input.addEventListener("input", update);
    update();
  });
})();
