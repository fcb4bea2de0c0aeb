/*
 * KS1 support chat for KS1 web — embed with one script tag:
 *
 *   <script src="https://support.example/widget/ks1-widget.js"
 *           data-server="https://support.example"        (the Rasa server, socket.io)
 *           data-token="eyJhbGciOi…"                     (the customer token KS1 web signed
 *                                                         for the logged-in user; optional)
 *           data-language="de"                           (de or en: the widget's own texts)
 *           data-title="KS1-Support"></script>
 *
 * It loads rasa-webchat (widget/vendor/webchat.js, fetched from npm at set-up) and starts it.
 * The customer token goes to the bot in the socket.io handshake; without one the customer is
 * unknown to the bot. The bot issues the session (the browser keeps it in localStorage, so a
 * page reload continues the conversation) and binds it to the customer: another browser,
 * or another KS1 web user on this one, gets a conversation of its own. If the connection
 * drops while an answer is on its way, the loader fetches the answers it missed when it
 * reconnects and shows them, or says that the last message could not be answered.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var base = script.src.replace(/ks1-widget\.js(\?.*)?$/, "");
  var server = (script.getAttribute("data-server") || "http://127.0.0.1:5005").replace(/\/+$/, "");
  var token = script.getAttribute("data-token") || "";
  var language = script.getAttribute("data-language") === "en" ? "en" : "de";
  var texts = {
    de: { title: "KS1-Support", subtitle: "Wir helfen bei Fragen zu KS1", hint: "Ihre Nachricht …",
          connecting: "Verbindung wird hergestellt …", missed: "Antwort nach Verbindungsunterbrechung:",
          failed: "Ihre letzte Nachricht konnte nicht beantwortet werden; bitte senden Sie sie erneut." },
    en: { title: "KS1 Support", subtitle: "We help with questions about KS1", hint: "Your message …",
          connecting: "Connecting …", missed: "Answer after the connection dropped:",
          failed: "Your last message could not be answered; please send it again." }
  }[language];
  var title = script.getAttribute("data-title") || texts.title;
  var wasDisconnected = false;
  var disconnectedAt = null;

  function sessionId() {
    try {
      var stored = JSON.parse(window.localStorage.getItem("chat_session") || "{}");
      return stored.session_id || null;
    } catch (e) { return null; }
  }

  function notice(text, kind) {
    var box = document.getElementById("ks1-chat-notices");
    if (!box) {
      box = document.createElement("div");
      box.id = "ks1-chat-notices";
      box.setAttribute("role", "status");
      document.body.appendChild(box);
    }
    var line = document.createElement("p");
    line.className = "ks1-chat-notice " + kind;
    line.textContent = text;  // server text is shown as text, never as HTML
    box.appendChild(line);
  }

  function recoverMissed() {
    var id = sessionId();
    if (!id || disconnectedAt === null) { return; }
    var url = base + "missed?session_id=" + encodeURIComponent(id) + "&since=" + encodeURIComponent(disconnectedAt);
    fetch(url, { credentials: "omit" }).then(function (r) { return r.json(); }).then(function (data) {
      (data.messages || []).forEach(function (m) { notice(texts.missed + " " + m.text, "missed"); });
      if (data.unanswered) { notice(texts.failed, "failed"); }
    }).catch(function () { notice(texts.failed, "failed"); });
  }

  var loader = document.createElement("script");
  loader.src = base + "vendor/webchat.js";
  loader.onload = function () {
    window.WebChat.default({
      socketUrl: token ? server + "/?ks1_token=" + encodeURIComponent(token) : server,
      socketPath: "/socket.io/",
      title: title,
      subtitle: texts.subtitle,
      inputTextFieldHint: texts.hint,
      connectingText: texts.connecting,
      // A new conversation starts with a greeting from the bot (the intent, not a classified text).
      initPayload: "/greeting",
      customData: { page_language: language, channel: "chat" },
      params: { storage: "local" },
      showFullScreenButton: false,
      customMessageDelay: function () { return 150; },
      onSocketEvent: {
        disconnect: function () { wasDisconnected = true; disconnectedAt = Date.now() / 1000; },
        connect: function () { if (wasDisconnected) { wasDisconnected = false; setTimeout(recoverMissed, 500); } }
      }
    }, null);
  };
  document.head.appendChild(loader);
})();
