"""The console's main journeys in headless Chromium (Debian's chromium + chromedriver), as a
person does them: sign in; build a template (the live preview and the linter answer while
typing), submit it and watch it pass review; send it from the Send page and follow its timeline
to Read; find it by search; type a reply as the user on the Phone page and see the window open;
rotate a number's access token; disable a key.

Input (JSON on stdin): url, email, password, chromium, chromedriver, screenshots (a directory
for the README's pictures, or null), failures (a directory: a failing step saves its screenshot
there), cloud_number (a whatsapp-cloud number to rotate the token of), new_token, key_id (a key
to disable), user (the user's number to send to). Prints one JSON object of findings, with
"error", "step" and "screenshot" when a step failed; the Rust test asserts on them."""
import json
import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

spec = json.load(sys.stdin)
opts = webdriver.ChromeOptions()
opts.binary_location = spec["chromium"]
for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
          "--window-size=1280,900"):
    opts.add_argument(a)
driver = webdriver.Chrome(service=Service(spec["chromedriver"]), options=opts)
out = {}
step = "start"


def wait(cond, seconds=15):
    return WebDriverWait(driver, seconds, poll_frequency=0.1).until(cond)


def shot(name):
    if spec.get("screenshots"):
        driver.save_screenshot(os.path.join(spec["screenshots"], f"{name}.png"))


def css(sel):
    return driver.find_element(By.CSS_SELECTOR, sel)


def field(name):
    return css(f"[name='{name}']")


def type_into(name, text):
    el = field(name)
    el.clear()
    el.send_keys(text)


def reload_until(predicate, seconds=20):
    """Reloads the page until predicate() holds (pages without live parts)."""
    deadline = time.time() + seconds
    while not predicate():
        if time.time() > deadline:
            raise TimeoutError("the page never showed what was expected")
        time.sleep(0.2)
        driver.refresh()


try:
    step = "sign in"
    driver.get(spec["url"] + "/console/login")
    type_into("email", spec["email"])
    type_into("password", spec["password"])
    css("form button[type=submit]").click()
    wait(EC.url_matches(r"/console$"))

    step = "build a template"
    driver.get(spec["url"] + "/console/templates/new")
    # a name Meta refuses: the linter's finding appears while typing, without submitting
    type_into("name", "Shipping Update")
    type_into("body", "Hi {{name}}, your parcel *{{parcel}}* is on its way.")
    wait(lambda d: "not a valid WhatsApp template name" in css("#preview").text)
    out["finding_while_typing"] = css("#preview .findings").text
    type_into("name", "shipping_update")
    type_into("examples", "name: Ada\nparcel: P-1")
    Select(field("button_type_0")).select_by_value("QUICK_REPLY")
    type_into("button_text_0", "Thanks")
    type_into("footer", "opencams demo")
    wait(lambda d: "No findings" in css("#preview").text and "Ada" in css("#preview").text)
    out["preview_text"] = css("#preview").text
    shot("template-builder")
    css("button.primary[type=submit]").click()
    wait(EC.url_contains("/console/templates/"))
    out["template_url"] = driver.current_url
    # the page reloads itself while the review runs
    wait(lambda d: d.find_elements(By.CSS_SELECTOR, ".badge.pass"), 30)
    out["review_history"] = css("ol.timeline").text

    step = "send it"
    driver.find_element(By.LINK_TEXT, "Send this template").click()
    wait(EC.presence_of_element_located((By.NAME, "var.name")))
    type_into("to", spec["user"])
    type_into("var.name", "Bo")
    type_into("var.parcel", "P-9")
    driver.find_element(By.XPATH, "//button[text()='Send template']").click()
    wait(EC.presence_of_element_located((By.ID, "sent")))
    link = css("#sent a")
    out["message_id"] = link.text
    link.click()

    step = "follow the timeline to Read"
    wait(EC.url_contains("/console/messages/"))
    reload_until(lambda: "Read" in css("ol.timeline").text)
    out["timeline"] = css("ol.timeline").text
    driver.execute_script(
        "const h = [...document.querySelectorAll('h2')].find(e => e.textContent === 'Timeline');"
        "window.scrollTo(0, h.getBoundingClientRect().top + window.scrollY - 16);")
    shot("message-timeline")

    step = "find it by search"
    driver.get(spec["url"] + "/console/messages")
    type_into("recipient", spec["user"])
    Select(field("status")).select_by_value("read")
    field("recipient").submit()
    wait(EC.url_contains("recipient="))
    out["search_found"] = out["message_id"] in driver.find_element(By.TAG_NAME, "main").text

    if spec.get("phone"):
        step = "reply as the user on the Phone page"
        driver.get(spec["url"] + "/console/phone?number=" + spec["phone"] + "&user=" + spec["user"])
        wait(EC.presence_of_element_located((By.ID, "chat")))
        type_into("text", "Where is my parcel?")
        field("text").submit()
        wait(lambda d: "Where is my parcel?" in css("#chat").text)
        out["phone_chat"] = css("#chat").text
        shot("phone")
        # the window is open: a free-form text to the user is accepted now
        driver.get(spec["url"] + "/console/send")
        css("#x-to").clear()
        css("#x-to").send_keys(spec["user"])
        css("#x-text").send_keys("It arrives tomorrow.")
        send = driver.find_element(By.XPATH, "//button[text()='Send text']")
        send.click()
        wait(EC.staleness_of(send))
        wait(lambda d: d.find_elements(By.ID, "sent") or d.find_elements(By.CSS_SELECTOR, "[role=alert]"))
        out["text_in_window"] = bool(driver.find_elements(By.ID, "sent"))

    step = "rotate a number's access token"
    driver.get(spec["url"] + "/console/numbers")
    number = spec["cloud_number"]
    token = css(f"#token-{number}")
    token.send_keys(spec["new_token"])
    token.submit()
    # the same address before and after: wait for the page to be replaced
    wait(EC.staleness_of(token))
    wait(EC.url_matches(r"/console/numbers$"))
    out["token_fingerprints"] = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "code.token")]

    step = "disable a key"
    driver.get(spec["url"] + "/console/keys")
    row = driver.find_element(By.XPATH, f"//tr[td/code[text()='{spec['key_id']}']]")
    row.find_element(By.XPATH, ".//button[text()='Disable']").click()
    wait(EC.staleness_of(row))
    wait(EC.url_matches(r"/console/keys$"))
    row = driver.find_element(By.XPATH, f"//tr[td/code[text()='{spec['key_id']}']]")
    out["key_state"] = row.find_elements(By.TAG_NAME, "td")[1].text

    step = "overview"
    driver.get(spec["url"] + "/console")
    wait(EC.presence_of_element_located((By.CSS_SELECTOR, "svg.chart")))
    shot("overview")
    step = "done"
except Exception as e:  # noqa: BLE001 - any failure is reported with its screenshot
    os.makedirs(spec["failures"], exist_ok=True)
    path = os.path.join(spec["failures"], step.replace(" ", "-") + ".png")
    try:
        driver.save_screenshot(path)
    except Exception:  # noqa: BLE001
        path = None
    out["error"] = f"{type(e).__name__}: {e}"
    out["step"] = step
    out["screenshot"] = path
    out["page"] = driver.current_url
finally:
    driver.quit()
print(json.dumps(out))
