// opencams console, Phone page: keeps the chat live. Every 2 s it fetches the chat alone
// (the `data-src` of #live) and swaps it in when it changed, keeping the scroll position and
// the focused reply button. The page works without it: a reload shows the same.
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live || !window.fetch) {
    return;
  }
  var src = live.getAttribute("data-src");
  var last = null;
  var busy = false;
  var timer = null;

  // an attribute value safe inside a CSS selector's quotes (ids here are letters and digits)
  function quoted(v) {
    return '"' + String(v).replace(/["\\]/g, "") + '"';
  }

  // the message (data-id) an element is in
  function messageOf(el) {
    var m = el && el.closest ? el.closest(".msg") : null;
    return m ? m.getAttribute("data-id") : null;
  }

  function swap(html) {
    var active = document.activeElement;
    var inside = active && live.contains(active);
    var key = inside ? active.getAttribute("data-key") : null;
    var onChat = inside && active.id === "chat";
    var onList = inside && active.tagName === "SUMMARY" ? messageOf(active) : null;
    var open = [].map.call(live.querySelectorAll("details[open]"), messageOf);
    var chat = document.getElementById("chat");
    var scroll = chat ? chat.scrollTop : 0;
    live.innerHTML = html;
    chat = document.getElementById("chat");
    if (chat) {
      chat.scrollTop = scroll;
    }
    open.forEach(function (id) {
      var d = id && live.querySelector(".msg[data-id=" + quoted(id) + "] details");
      if (d) {
        d.open = true;
      }
    });
    var again = null;
    if (key) {
      again = live.querySelector("[data-key=" + quoted(key) + "]");
    } else if (onChat) {
      again = chat;
    } else if (onList) {
      again = live.querySelector(".msg[data-id=" + quoted(onList) + "] summary");
    }
    if (again) {
      again.focus();
    }
  }

  function poll() {
    if (busy || document.hidden) {
      return;
    }
    busy = true;
    fetch(src, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) {
        // signed out (sent to the sign-in page) or refused: stop, a reload says why
        if (r.redirected || r.status === 401 || r.status === 403 || r.status === 404) {
          window.clearInterval(timer);
          return null;
        }
        return r.ok ? r.text() : null;
      })
      .then(function (html) {
        if (html !== null && html !== last) {
          if (last !== null) {
            swap(html);
          }
          last = html;
        }
      })
      .catch(function () {
        // the server is restarting: try again at the next tick
      })
      .then(function () {
        busy = false;
      });
  }

  timer = window.setInterval(poll, 2000);
  poll();
})();
