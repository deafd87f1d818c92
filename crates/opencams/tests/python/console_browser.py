"""Drives the web console in headless Chromium (Debian's chromium + chromedriver) the way a
person would: keyboard only to sign in, at a phone's width (360 px) and a desktop's. Input (JSON
on stdin): url, email, password, chromedriver, chromium, screenshots (a directory or null).
Prints one JSON object of findings; the Rust test asserts on them."""
import json
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

spec = json.load(sys.stdin)
opts = webdriver.ChromeOptions()
opts.binary_location = spec["chromium"]
for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
          "--window-size=360,800"):
    opts.add_argument(a)
driver = webdriver.Chrome(service=Service(spec["chromedriver"]), options=opts)
out = {}

# every visible form control has a label: wrapped in one, or named by one's `for`
UNLABELLED = """
return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
  .filter(e => !e.closest('label') && !(e.id && document.querySelector(`label[for="${e.id}"]`)))
  .map(e => e.name || e.outerHTML.slice(0, 60));
"""
OVERFLOW = "return document.documentElement.scrollWidth > window.innerWidth;"


def shot(name):
    if spec.get("screenshots"):
        driver.save_screenshot(f"{spec['screenshots']}/{name}.png")


try:
    driver.get(spec["url"] + "/console")
    out["login_url"] = driver.current_url
    out["login_unlabelled"] = driver.execute_script(UNLABELLED)
    out["login_overflow_360"] = driver.execute_script(OVERFLOW)
    shot("login-360")
    # keyboard only: the email field has focus, Tab moves to the password, Enter submits
    active = driver.switch_to.active_element
    out["focus_on_load"] = active.get_attribute("name")
    active.send_keys(spec["email"])
    active.send_keys(Keys.TAB)
    pw = driver.switch_to.active_element
    out["focus_after_tab"] = pw.get_attribute("name")
    pw.send_keys(spec["password"])
    pw.send_keys(Keys.ENTER)
    WebDriverWait(driver, 10).until(EC.presence_of_element_located((By.CSS_SELECTOR, "div.cards")))
    out["after_sign_in"] = driver.current_url
    out["h1"] = driver.find_element(By.TAG_NAME, "h1").text
    out["overview_overflow_360"] = driver.execute_script(OVERFLOW)
    out["chart_drawn"] = driver.execute_script(
        "const s = document.querySelector('svg.chart'); return !!s && s.getBoundingClientRect().width > 0;")
    out["stylesheet_applied"] = driver.execute_script(
        "return getComputedStyle(document.querySelector('header.top')).display === 'flex';")
    shot("overview-360")
    # the navigation by keyboard: Tab until the Messages link has focus, then Enter
    body = driver.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)
    reached = None
    for _ in range(12):
        el = driver.switch_to.active_element
        if el.tag_name == "a" and el.text == "Messages":
            reached = el
            break
        el.send_keys(Keys.TAB)
    out["tab_reaches_messages"] = reached is not None
    if reached is not None:
        reached.send_keys(Keys.ENTER)
        WebDriverWait(driver, 10).until(EC.title_contains("Messages"))
    out["messages_unlabelled"] = driver.execute_script(UNLABELLED)
    out["messages_overflow_360"] = driver.execute_script(OVERFLOW)
    shot("messages-360")
    driver.set_window_size(1280, 900)
    driver.get(spec["url"] + "/console")
    out["overview_overflow_desktop"] = driver.execute_script(OVERFLOW)
    shot("overview-desktop")
    for path in ("/console/webhooks", "/console/keys"):
        driver.get(spec["url"] + path)
        out[path + " unlabelled"] = driver.execute_script(UNLABELLED)
    # signing out by its button
    driver.find_element(By.XPATH, "//button[text()='Sign out']").click()
    WebDriverWait(driver, 10).until(EC.url_contains("/console/login"))
    out["after_sign_out"] = driver.current_url
finally:
    driver.quit()
print(json.dumps(out))
