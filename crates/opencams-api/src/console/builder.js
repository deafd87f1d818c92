// The template builder's live preview: a moment after each change, the form is posted to the
// preview route, which answers the message drawn as WhatsApp shows it and the linter's finding
// (the server's own rules). Without this script the Preview button does the same.
(function () {
  "use strict";
  var form = document.getElementById("builder");
  var target = document.getElementById("preview");
  if (!form || !target || !window.fetch) return;
  var timer = null;
  var sent = 0;
  function refresh() {
    var mine = ++sent;
    var body = new URLSearchParams(new FormData(form));
    fetch(form.getAttribute("data-preview"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-Preview": "fragment", "Content-Type": "application/x-www-form-urlencoded" },
      body: body.toString()
    }).then(function (r) {
      return r.ok ? r.text() : null;
    }).then(function (html) {
      // an older answer arriving late must not replace a newer one
      if (html !== null && mine === sent) target.innerHTML = html;
    }).catch(function () {});
  }
  function later() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 250);
  }
  form.addEventListener("input", later);
  form.addEventListener("change", later);
})();
