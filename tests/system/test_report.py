"""The HTML report, opened in a real headless Chromium: it loads and shows the figure."""

import base64
import os
import shutil

import pytest
from conftest import snakemake
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
# CI installs Chromium (.ci/run); elsewhere the browser test may skip, saying why.
IN_CI = os.environ.get("CI") == "true"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    # This machine has no internet: keep Chromium from trying.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--window-size=1400,1000",
]


@pytest.fixture(scope="module")
def report(tiny_run, tmp_path_factory):
    # Outside tiny_run/results, which other tests compare file by file.
    path = tmp_path_factory.mktemp("report") / "report.html"
    result = snakemake(tiny_run, "--report", str(path), "--configfile", "test_config.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    return path


def test_the_report_is_one_file_that_embeds_both_figures(report, tiny_run):
    html = report.read_text()
    for figure in ("compute_vs_klom.png", "methods.png"):
        encoded = base64.b64encode((tiny_run / "results" / figure).read_bytes()).decode()
        assert encoded in html, f"{figure} is not embedded in the report"


@pytest.fixture(scope="module")
def browser():
    missing = [
        name for name, path in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER)) if not path
    ]
    if missing:
        reason = f"needs {', '.join(missing)}: apt-get install chromium chromium-driver"
        if IN_CI:
            pytest.fail(f"CI must run the browser test: {reason}")
        pytest.skip(reason)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def show_result(driver, category: str, file: str):
    """Open a result category in the report's menu and press the eye button of ``file``."""
    wait = WebDriverWait(driver, 30)
    wait.until(lambda d: d.find_element(By.XPATH, f"//*[normalize-space(text())='{category}']"))
    driver.find_element(By.XPATH, f"//*[normalize-space(text())='{category}']").click()
    row = wait.until(
        lambda d: d.find_element(By.XPATH, f"//td[normalize-space(text())='{file}']/..")
    )
    row.find_element(By.CSS_SELECTOR, "a[iconname='eye']").click()


def shown_images(driver) -> list[tuple[int, int]]:
    """(width, height) of every fully loaded, visible image on the page."""
    sizes = []
    for image in driver.find_elements(By.TAG_NAME, "img"):
        size = driver.execute_script(
            "return arguments[0].complete ? [arguments[0].naturalWidth, arguments[0].naturalHeight] : null",
            image,
        )
        if size and size[0] > 0 and image.is_displayed():
            sizes.append(tuple(size))
    return sizes


def test_the_report_loads_in_chromium_and_shows_the_figures(report, browser, tiny_run):
    from PIL import Image  # matplotlib's dependency

    browser.get(report.as_uri())
    WebDriverWait(browser, 30).until(lambda d: "klomflow scored unlearning" in d.page_source)
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "N = 4 models per cell" in body  # the description, rendered with the run's config
    for category, figure in (
        ("Compute vs KLOM", "compute_vs_klom.png"),
        ("Unlearning methods", "methods.png"),
    ):
        browser.get(report.as_uri())
        show_result(browser, category, f"results/{figure}")
        expected = Image.open(tiny_run / "results" / figure).size
        WebDriverWait(browser, 30).until(lambda d, size=expected: size in shown_images(d))
