// Support record form: offer only the pairings that cover the chosen village.
// (A convenience: the server refuses a pairing that does not cover the village anyway.)
(function () {
  var village = document.querySelector("select[name=village_code]");
  var pairing = document.querySelector("select[name=pairing_id]");
  if (!village || !pairing) {
    return;
  }
  function update() {
    var code = village.value;
    Array.prototype.forEach.call(pairing.options, function (option) {
      var prefix = option.getAttribute("data-region");
      if (!prefix) {
        return;
      }
      var fits = !code || code.indexOf(prefix) === 0;
      option.hidden = !fits;
      option.disabled = !fits;
      if (!fits && option.selected) {
        pairing.value = "";
      }
    });
  }
  village.addEventListener("change", update);
  update();
})();
