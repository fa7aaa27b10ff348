// Support record form: offer only the pairings that cover the chosen village on the
// record's date, and choose the pairing when exactly one does (the server does the same for
// a village given in the link, RecordForm.choose_only_pairing). A convenience: the server
// refuses a pairing that does not cover the village, or was not in force on the date, anyway.
(function () {
  var village = document.querySelector("select[name=village_code]");
  var pairing = document.querySelector("select[name=pairing_id]");
  var day = document.querySelector("input[name=record_date]");
  if (!village || !pairing) {
    return;
  }
  function inForce(option) {
    var when = day && /^\d{4}-\d{2}-\d{2}$/.test(day.value) ? day.value : "";
    var end = option.getAttribute("data-end");
    return !when || (option.getAttribute("data-start") <= when && (!end || when <= end));
  }
  function update(chosen) {
    var code = village.value;
    var fitting = [];
    Array.prototype.forEach.call(pairing.options, function (option) {
      var prefix = option.getAttribute("data-region");
      if (!prefix) {
        return;
      }
      var fits = (!code || code.indexOf(prefix) === 0) && inForce(option);
      option.hidden = !fits;
      option.disabled = !fits;
      if (fits) {
        fitting.push(option);
      }
      if (!fits && option.selected) {
        pairing.value = "";
      }
    });
    if (chosen && code && fitting.length === 1 && !pairing.value) {
      pairing.value = fitting[0].value;
      pairing.dispatchEvent(new Event("change", { bubbles: true }));
    }
  }
  village.addEventListener("change", function () { update(true); });
  if (day) {
    day.addEventListener("change", function () { update(true); });
  }
  update(false);
})();
