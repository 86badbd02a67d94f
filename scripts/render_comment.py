#!/usr/bin/env python3
"""Render the PR comment of the example config as GitHub shows it, to check it by eye.

Usage::

    python scripts/render_comment.py [--out DIR] [--no-png]

In a copy of ``examples/platform`` (the dev env, on the embedded emulator) it runs the real CLI:
``plan`` (the first plan: every document a create), ``apply``, then edits the order agent's prompt
(and its temperature) and plans again.  Each plan is rendered as the action renders its sticky
comment (:func:`ci_deployer.report.markdown.render_plan`), then to HTML the way GitHub does:
CommonMark + GFM tables and strikethrough (markdown-it-py, a dev dependency), raw HTML kept,
``<details>`` opened, ``diff`` fences coloured by their column-0 ``+``/``-`` as GitHub's highlighter
does, and a GitHub-like stylesheet.  Where headless Chromium is installed (``apt-get install
chromium``) each page is also captured as a PNG of its full height.

It writes, under ``--out`` (default: a new temporary folder, so nothing lands in git)::

    first-plan.json  first-plan.md  first-plan.html  first-plan.png
    prompt-edit.json prompt-edit.md prompt-edit.html prompt-edit.png
"""

from __future__ import annotations

import argparse
import contextlib
import html
import io
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "platform"
# The example's one secret: any value of 8+ characters does on the embedded emulator.
ENVIRON = {"ORDERS_API_TOKEN": "orders-demo-token-4f2a9c"}
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--hide-scrollbars",
)
WIDTH = 1012  # GitHub's PR conversation column

CSS = """
body { margin: 0; background: #fff; color: #1f2328; font-size: 14px; line-height: 1.5;
       font-family: -apple-system, BlinkMacSystemFont, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif; }
.timeline { width: 900px; margin: 16px auto; }
.comment { border: 1px solid #d1d9e0; border-radius: 6px; }
.comment-header { background: #f6f8fa; border-bottom: 1px solid #d1d9e0; padding: 8px 16px;
                  border-radius: 6px 6px 0 0; color: #59636e; }
.comment-header b { color: #1f2328; }
.markdown-body { padding: 16px; word-wrap: break-word; }
.markdown-body > *:first-child { margin-top: 0 !important; }
h3 { font-size: 1.25em; font-weight: 600; margin: 24px 0 16px; }
h4 { font-size: 1em; font-weight: 600; margin: 24px 0 16px; }
p, ul, pre, blockquote, details { margin: 0 0 16px; }
ul { padding-left: 2em; }
blockquote { padding: 0 1em; color: #59636e; border-left: .25em solid #d1d9e0; margin-left: 0; }
code { font-family: ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, "Liberation Mono", monospace;
       font-size: 85%; background: rgba(129,139,152,.12); border-radius: 6px; padding: .2em .4em; }
pre { background: #f6f8fa; border-radius: 6px; padding: 16px; overflow: auto; line-height: 1.45; }
pre code { background: transparent; padding: 0; font-size: 85%; white-space: pre; display: block; }
details summary { cursor: pointer; }
details { border-left: 3px solid #d1d9e0; padding-left: 12px; }
hr { height: .25em; background: #d1d9e0; border: 0; margin: 24px 0; }
sub { color: #59636e; }
.pl-mi1 { color: #116329; background: #dafbe1; display: inline-block; width: 100%; }
.pl-md { color: #82071e; background: #ffebe9; display: inline-block; width: 100%; }
.pl-mdr { color: #6639ba; font-weight: bold; }
.pl-ent { color: #0550ae; }
"""


def cli(*argv: str) -> int:
    from ci_deployer import cli as entry

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
        code = entry.main(list(argv), environ=ENVIRON)
    if code not in (0, 2):
        sys.stderr.write(err.getvalue())
    return code


def edit_prompt(root: Path) -> None:
    """The change a reviewer approves: one line of the order agent's prompt rewritten, one added,
    and a warmer temperature."""
    prompt = root / "prompts" / "order-agent.md"
    text = prompt.read_text(encoding="utf-8")
    old = "- Greet the caller briefly and ask for their order number.\n"
    new = (
        "- Greet the caller by name if {{ customer.name }} is known, then ask for their order number.\n"
        "- Read the order number back digit by digit before you look it up.\n"
    )
    if old not in text:
        raise SystemExit(f"{prompt} changed: cannot find the line this script edits")
    prompt.write_text(text.replace(old, new), encoding="utf-8")
    doc = root / "assistants" / "order-agent.yaml"
    doc.write_text(doc.read_text(encoding="utf-8").replace("temperature: 0.3", "temperature: 0.4"), encoding="utf-8")


def plans(work: Path) -> dict[str, dict[str, Any]]:
    """The example's first plan and the plan of a prompt edit, from the real CLI."""
    root = work / "platform"
    shutil.copytree(EXAMPLES, root, ignore=shutil.ignore_patterns(".ci-deployer"))
    out: dict[str, dict[str, Any]] = {}
    config = ["--config", str(root), "--env", "dev"]
    for name in ("first-plan", "prompt-edit"):
        path = work / f"{name}.json"
        if cli("plan", *config, "--out", str(path)) not in (0, 2):
            raise SystemExit(f"ci-deployer plan failed for {name}")
        out[name] = json.loads(path.read_text(encoding="utf-8"))
        if name == "first-plan":
            if cli("apply", *config, "--auto-approve") != 0:
                raise SystemExit("ci-deployer apply failed")
            edit_prompt(root)
    return out


def comment(plan: dict[str, Any]) -> str:
    """The sticky comment the action would post for ``plan``."""
    from ci_deployer.report import markdown

    marker = "<!-- ci-deployer:v1 " + json.dumps({"env": plan["env"], "planHash": plan["hash"]}) + " -->"
    run = markdown.RunInfo("https://github.com/acme/config/actions/runs/42", "0" * 40, "ci-deployer-dev-plan-42-1")
    return markdown.render_plan(plan, run=run, marker=marker)


def _highlight(match: re.Match[str]) -> str:
    """A fenced block's lines classed as GitHub's highlighter classes them (diff: by column 0)."""
    lang, body = match.group(1), match.group(2)
    lines = body.split("\n")
    out = []
    for line in lines:
        if lang == "diff" and line.startswith("+"):
            out.append(f'<span class="pl-mi1">{line}</span>')
        elif lang == "diff" and line.startswith("-"):
            out.append(f'<span class="pl-md">{line}</span>')
        elif lang == "diff" and line.startswith("@@"):
            out.append(f'<span class="pl-mdr">{line}</span>')
        elif lang == "yaml":
            out.append(re.sub(r"^(\s*(?:- )?)([^:\s][^:]*?):(\s|$)", r'\1<span class="pl-ent">\2</span>:\3', line))
        else:
            out.append(line)
    return f'<pre><code class="language-{lang}">' + "\n".join(out) + "</code></pre>"


def to_html(text: str, title: str) -> str:
    """``text`` rendered as GitHub renders a comment (details expanded), in a GitHub-like page."""
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(text)
    body = body.replace("<details>", "<details open>")
    body = re.sub(r'<pre><code class="language-(\w+)">(.*?)</code></pre>', _highlight, body, flags=re.S)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{CSS}</style></head><body><div class='timeline'><div class='comment'>"
        "<div class='comment-header'><b>ci-deployer</b> <span>bot</span> commented</div>"
        f"<div class='markdown-body'>{body}</div></div></div>"
        "<script>document.title = String(Math.ceil(document.querySelector('.timeline').getBoundingClientRect().bottom))"
        "</script></body></html>"
    )


def screenshot(browser: str, page: Path, png: Path, profile: Path) -> None:
    """A PNG of the page's full height (measured by the page itself in a first, DOM-only run)."""
    flags = [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}"]
    dom = subprocess.run(
        [*flags, f"--window-size={WIDTH},600", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    found = re.search(r"<title>(\d+)</title>", dom)
    height = int(found.group(1)) + 16 if found else 4000
    subprocess.run(
        [*flags, f"--window-size={WIDTH},{height}", f"--screenshot={png}", page.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, help="folder for the files (default: a new temporary folder)")
    parser.add_argument("--no-png", action="store_true", help="skip the screenshots")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    out: Path = args.out or Path(tempfile.mkdtemp(prefix="ci-deployer-comment-"))
    out.mkdir(parents=True, exist_ok=True)
    browser = None if args.no_png else (shutil.which("chromium") or shutil.which("chromium-browser"))
    with tempfile.TemporaryDirectory(prefix="ci-deployer-render-") as tmp:
        work = Path(tmp)
        for name, plan in plans(work).items():
            (out / f"{name}.json").write_text(json.dumps(plan, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            text = comment(plan)
            (out / f"{name}.md").write_text(text, encoding="utf-8")
            page = out / f"{name}.html"
            page.write_text(to_html(text, name), encoding="utf-8")
            made = [page.name]
            if browser:
                screenshot(browser, page, out / f"{name}.png", work / "chromium-profile")
                made.append(f"{name}.png")
            print(f"{name}: {len(text):,} characters → {', '.join(made)}")
    if not browser and not args.no_png:
        print("no chromium on PATH: HTML only (apt-get install chromium for the PNGs)")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
