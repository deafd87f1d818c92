"""An independent Cloud API client (pywa) against the opencams simulator.

stdin: {"sim": "127.0.0.1:PORT", "port": WEBHOOK_PORT, "phone_id", "token", "app_secret", "waba_id", "user"}
Sends every message type with pywa, makes the simulated user write every inbound type, and has
pywa validate (X-Hub-Signature-256) and parse every webhook the simulator posts.
stdout: {"sends": {kind: "ok" | error}, "handled": {update kind: count}, "errors": [...], "webhooks": n}
"""
import json
import logging
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from pywa import WhatsApp, handlers, types

spec = json.load(sys.stdin)
SIM = f"http://{spec['sim']}"
errors, handled, webhooks = [], {}, []
lock = threading.Lock()


class Capture(logging.Handler):
    def emit(self, record):
        if record.levelno >= logging.ERROR or "Rejected" in record.getMessage():
            detail = ""
            if record.exc_info and record.exc_info[1] is not None:
                detail = f" ({type(record.exc_info[1]).__name__}: {record.exc_info[1]})"
            errors.append(f"pywa log: {record.getMessage()}{detail}")


logging.getLogger("pywa").addHandler(Capture())
logging.getLogger("pywa").setLevel(logging.WARNING)

wa = WhatsApp(phone_id=spec["phone_id"], token=spec["token"], server=None, app_secret=spec["app_secret"],
              verify_token="unused", validate_updates=True)
wa.api._session.base_url = f"{SIM}/v23.0"


def count(kind):
    def cb(_client, update):
        with lock:
            handled[kind] = handled.get(kind, 0) + 1
            if kind == "message":
                handled.setdefault("message_types", []).append(str(update.type))
    return cb


wa.add_handlers(
    handlers.MessageHandler(count("message")),
    handlers.MessageStatusHandler(count("status")),
    handlers.CallbackButtonHandler(count("callback_button")),
    handlers.CallbackSelectionHandler(count("callback_selection")),
    handlers.TemplateStatusUpdateHandler(count("template_status")),
)


class Hook(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        sig = self.headers.get("x-hub-signature-256")
        bad = wa.webhook_update_validator(body, sig)
        if bad:
            errors.append(f"signature rejected: {bad}")
        else:
            try:
                res, code = wa.webhook_update_handler(body)
                if code != 200:
                    errors.append(f"handler answered {code}: {res}")
            except Exception as e:  # noqa: BLE001 - any failure to parse is a fidelity bug
                errors.append(f"handler raised {type(e).__name__}: {e}")
        with lock:
            webhooks.append(json.loads(body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", spec["port"]), Hook)
threading.Thread(target=server.serve_forever, daemon=True).start()


def http(method, path, body=None):
    req = urllib.request.Request(f"{SIM}{path}", method=method, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": f"Bearer {spec['token']}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())


user = spec["user"]
first = http("POST", "/_sim/inbound", {"phone_number_id": spec["phone_id"], "from": user, "message": {"type": "text", "text": {"body": "hi"}}})
time.sleep(0.3)

sends = {}


def attempt(kind, fn):
    try:
        sent = fn()
        sends[kind] = "ok" if getattr(sent, "id", None) else f"no id: {sent!r}"
    except Exception as e:  # noqa: BLE001
        sends[kind] = f"{type(e).__name__}: {e}"


attempt("text", lambda: wa.send_message(to=user, text="Hello from pywa"))
attempt("image", lambda: wa.send_image(to=user, image="https://example.org/a.png", caption="A"))
attempt("video", lambda: wa.send_video(to=user, video="https://example.org/v.mp4"))
attempt("audio", lambda: wa.send_audio(to=user, audio="https://example.org/a.ogg"))
attempt("document", lambda: wa.send_document(to=user, document="https://example.org/d.pdf", filename="d.pdf"))
attempt("sticker", lambda: wa.send_sticker(to=user, sticker="https://example.org/s.webp"))
attempt("location", lambda: wa.send_location(to=user, latitude=51.5, longitude=-0.12, name="Office", address="1 St"))
attempt("contacts", lambda: wa.send_contact(to=user, contact=types.Contact(
    name=types.Contact.Name(formatted_name="Ada Lovelace", first_name="Ada"),
    phones=[types.Contact.Phone(phone="+447700900123", type="WORK")])))
attempt("reaction", lambda: wa.send_reaction(to=user, emoji="👍", message_id=first["MessageId"]))
attempt("buttons", lambda: wa.send_message(to=user, text="Pick one", buttons=[
    types.Button(title="Yes", callback_data="yes"), types.Button(title="No", callback_data="no")]))
attempt("list", lambda: wa.send_message(to=user, text="Choose", buttons=types.SectionList(button_title="Options", sections=[
    types.Section(title="Fast", rows=[types.SectionRow(title="Express", callback_data="exp", description="Next day")])])))
attempt("cta_url", lambda: wa.send_message(to=user, text="Track it", buttons=types.URLButton(title="Track", url="https://example.org/t")))

# a template created through the Graph template API, approved by the simulator, sent by pywa
http("POST", f"/v23.0/{spec['waba_id']}/message_templates", {
    "name": "pywa_order", "language": "en_US", "category": "UTILITY", "parameter_format": "NAMED",
    "components": [{"type": "BODY", "text": "Hi {{name}}, your order ships today.",
                    "example": {"body_text_named_params": [{"param_name": "name", "example": "Ada"}]}}]})
deadline = time.time() + 15
while time.time() < deadline:
    listed = http("GET", f"/v23.0/{spec['waba_id']}/message_templates?name=pywa_order")
    if any(t.get("status") == "APPROVED" for t in listed.get("data", [])):
        break
    time.sleep(0.2)
attempt("template", lambda: wa.send_template(to=user, name="pywa_order", language=types.templates.TemplateLanguage.ENGLISH_US, params=[
    {"type": "body", "parameters": [{"type": "text", "parameter_name": "name", "text": "Ada"}]}]))

# the user writes every inbound kind
inbound = [
    {"type": "image", "image": {"mime_type": "image/jpeg", "caption": "look"}},
    {"type": "location", "location": {"latitude": 51.5, "longitude": -0.12, "name": "Here"}},
    {"type": "contacts", "contacts": [{"name": {"formatted_name": "Bob B", "first_name": "Bob"}, "phones": [{"phone": "+1555", "type": "CELL"}]}]},
    {"type": "reaction", "reaction": {"message_id": first["MessageId"], "emoji": "❤️"}},
    {"type": "button", "button": {"payload": "stop", "text": "Stop"}, "context": {"from": spec["display"], "id": first["MessageId"]}},
    {"type": "interactive", "interactive": {"type": "button_reply", "button_reply": {"id": "yes", "title": "Yes"}}, "context": {"from": spec["display"], "id": first["MessageId"]}},
    {"type": "interactive", "interactive": {"type": "list_reply", "list_reply": {"id": "exp", "title": "Express", "description": "Next day"}}, "context": {"from": spec["display"], "id": first["MessageId"]}},
    {"type": "document", "document": {"mime_type": "application/pdf", "filename": "x.pdf"}},
]
for m in inbound:
    try:
        http("POST", "/_sim/inbound", {"phone_number_id": spec["phone_id"], "from": user, "message": m})
    except Exception as e:  # noqa: BLE001
        errors.append(f"inbound {m['type']}: {e}")

deadline = time.time() + 20
while time.time() < deadline:
    with lock:
        statuses = handled.get("status", 0)
    if statuses >= 3 * 11 and handled.get("template_status", 0) >= 1:
        break
    time.sleep(0.2)
time.sleep(0.5)
server.shutdown()
posted = {"statuses": 0, "messages": 0}
for w in webhooks:
    for e in w.get("entry", []):
        for c in e.get("changes", []):
            for k in posted:
                posted[k] += len(c.get("value", {}).get(k, []))
print(json.dumps({"sends": sends, "handled": handled, "errors": errors, "webhooks": len(webhooks), "posted": posted}))
