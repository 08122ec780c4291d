"""The README and the manual point at things that exist.

- Every relative link of README.md, docs/*.md and bench/README.md resolves to a file or folder of
  the repository, and a `#fragment` to a heading of the file it names (GitHub's anchors).
- Nothing links outside the repository: a URL may only name this machine or the private
  addresses and names the examples use (127.0.0.1, localhost, the cluster topology's 10.77.0.x,
  a compose service name such as `es1`).
- Every command the README shows in a code block exists: scripts (bin/, stack/, bench/...) are
  executable files, `manage.py` subcommands are management command modules.
- Every repository path the README and docs/*.md name in inline code exists.
The helpers are also run on broken examples, so a check cannot pass by finding nothing.
"""

from __future__ import annotations

import glob
import importlib.util
import re
import shlex
from pathlib import Path

import pytest

pytestmark = pytest.mark.fast
ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MANUAL = sorted((ROOT / "docs").glob("*.md"))
LINKED_DOCS = [README, *MANUAL, ROOT / "bench" / "README.md"]
# Files the reader creates by following the docs (`cp compose/.env.example compose/.env`).
CREATED_BY_THE_READER = {"compose/.env"}

FENCE = re.compile(r"^(`{3,}|~{3,})")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
AUTOLINK = re.compile(r"<(https?://[^>\s]+)>")
URL = re.compile(r"https?://[^\s)>\],`'\"|]+")
INLINE_CODE = re.compile(r"(`+)(.+?)\1")
LOCAL_HOST = re.compile(r"^(127\.0\.0\.1|localhost|10\.77\.0\.\d{1,3}|\[::1\]|[a-z0-9_-]+|\$\{?\w+\}?)$", re.I)


def split_markdown(text: str) -> tuple[list[str], list[list[str]]]:
    """(prose lines, fenced code blocks): lines outside fences, and each fence's lines."""
    prose, blocks, block, fence = [], [], None, None
    for line in text.splitlines():
        marker = FENCE.match(line.strip())
        if fence is None and marker:
            fence, block = marker.group(1)[0] * 3, []
        elif fence is not None and line.strip().startswith(fence):
            blocks.append(block)
            fence, block = None, None
        elif fence is not None:
            block.append(line)
        else:
            prose.append(line)
    return prose, blocks


def github_anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, markup and punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    text = text.strip().lower().replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    prose, _ = split_markdown(path.read_text())
    seen: dict[str, int] = {}
    found = set()
    for line in prose:
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not match:
            continue
        anchor = github_anchor(match.group(1))
        count = seen.get(anchor, 0)
        seen[anchor] = count + 1
        found.add(anchor if count == 0 else f"{anchor}-{count}")
    return found


def broken_links(path: Path, text: str | None = None) -> list[str]:
    """Each relative link of a Markdown file that names no file, or no heading of the file it names."""
    text = path.read_text() if text is None else text
    prose, _ = split_markdown(text)
    problems = []
    for line in prose:
        line = INLINE_CODE.sub("", line)
        for target in LINK.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
                continue  # a scheme: checked by outside_links
            file_part, _, fragment = target.partition("#")
            resolved = (path.parent / file_part).resolve() if file_part else path
            relative = resolved.relative_to(ROOT).as_posix() if resolved.is_relative_to(ROOT) else None
            if relative is None:
                problems.append(f"{target}: outside the repository")
            elif not resolved.exists():
                problems.append(f"{target}: no such file")
            elif fragment and resolved.suffix == ".md" and fragment not in anchors(resolved):
                problems.append(f"{target}: no heading #{fragment} in {relative}")
    return problems


def outside_links(text: str) -> list[str]:
    """Every URL, in prose or code, whose host is not this machine or a private example name."""
    problems = []
    for url in [*URL.findall(text), *AUTOLINK.findall(text)]:
        host = re.sub(r"^https?://", "", url).split("/", 1)[0].split("@")[-1]
        host = re.sub(r":[\d$\w{}]*$", "", host) if not host.startswith("[") else host.split("]")[0] + "]"
        if not LOCAL_HOST.match(host):
            problems.append(url)
    return sorted(set(problems))


def _management_commands() -> set[str]:
    names = {p.stem for p in ROOT.glob("*/*/management/commands/*.py")}
    names |= {p.stem for p in ROOT.glob("*/management/commands/*.py")}
    for package in ("django.core.management.commands", "django.contrib.staticfiles.management.commands"):
        spec = importlib.util.find_spec(package)
        if spec and spec.submodule_search_locations:
            for location in spec.submodule_search_locations:
                names |= {p.stem for p in Path(location).glob("*.py")}
    return {n for n in names if not n.startswith("_")}


def missing_commands(blocks: list[list[str]]) -> list[str]:
    """Scripts of the repository that are not executable files, and unknown manage.py subcommands,
    in the given code blocks (shell lines; `#` comments and `VAR=value` prefixes skipped)."""
    commands = _management_commands()
    problems = []
    for block in blocks:
        for raw in block:
            line = raw.split(" #", 1)[0].strip()
            if not line or line.startswith("#"):
                continue
            try:
                words = shlex.split(line)
            except ValueError:
                words = line.split()
            while words and re.match(r"^\w+=", words[0]):
                words.pop(0)
            if words and "/" in words[0] and not words[0].startswith(("/", "$", "~", ".")):
                script = ROOT / words[0]
                if not (script.is_file() and script.stat().st_mode & 0o111):
                    problems.append(f"{words[0]}: not an executable file of the repository")
            if "manage.py" in words:
                rest = [w for w in words[words.index("manage.py") + 1 :] if not w.startswith("-")]
                if not rest or rest[0] not in commands:
                    problems.append(f"manage.py {rest[0] if rest else ''}: no such management command")
    return problems


TOP_LEVEL = {p.name for p in ROOT.iterdir() if not p.name.startswith(".")} - {"var"}


def missing_paths(text: str) -> list[str]:
    """Repository paths named in inline code (`write_service/*/api.py`, `bin/test --fast`) that
    match nothing; spans with placeholders (`<version>`, `$VAR`) or outside the tree are skipped."""
    prose, _ = split_markdown(text)
    problems = []
    for line in prose:
        for _, span in INLINE_CODE.findall(line):
            first = span.split()[0] if span.split() else ""
            candidate = first.rstrip(".,;:")
            if "/" not in candidate or any(c in candidate for c in "<>$%{}[]=|"):
                continue
            if candidate.split("/", 1)[0] not in TOP_LEVEL or candidate in CREATED_BY_THE_READER:
                continue
            if not glob.glob(str(ROOT / candidate)):
                problems.append(candidate)
    return sorted(set(problems))


# --- the repository's documents ------------------------------------------------------------------


@pytest.mark.parametrize("path", LINKED_DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(path):
    assert broken_links(path) == [], f"{path.relative_to(ROOT)} has broken links"


@pytest.mark.parametrize("path", LINKED_DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_nothing_links_outside_the_repository(path):
    assert outside_links(path.read_text()) == [], f"{path.relative_to(ROOT)} links outside the repository"


def test_every_command_the_readme_shows_exists():
    _, blocks = split_markdown(README.read_text())
    assert blocks, "the README shows no code block: the check would pass on nothing"
    assert missing_commands(blocks) == []


@pytest.mark.parametrize("path", [README, *MANUAL], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_named_paths_exist(path):
    assert missing_paths(path.read_text()) == [], f"{path.relative_to(ROOT)} names paths that do not exist"


def test_the_readme_is_a_front_door():
    assert len(README.read_text().splitlines()) <= 160, "the README grows past its ~150 lines: move detail to docs/"


# --- the checks catch what they are for ------------------------------------------------------------


def test_a_broken_link_is_caught():
    text = (
        "[ok](docs/ARCHITECTURE.md) [ok anchor](docs/ARCHITECTURE.md#the-flow-of-one-write)\n"
        "[gone](docs/NO_SUCH_FILE.md) [bad anchor](docs/ARCHITECTURE.md#no-such-heading)\n"
        "[escape](../../etc/passwd)\n"
        "```\n[in code](nowhere.md)\n```\n"
    )
    problems = broken_links(README, text)
    assert problems == [
        "docs/NO_SUCH_FILE.md: no such file",
        "docs/ARCHITECTURE.md#no-such-heading: no heading #no-such-heading in docs/ARCHITECTURE.md",
        "../../etc/passwd: outside the repository",
    ]


def test_an_outside_link_is_caught():
    text = (
        "[docs](https://docs.djangoproject.com/en/5.2/) <http://example.com/x> see http://evil.example:8080/\n"
        "`curl http://127.0.0.1:8080/health/ready` `http://localhost:9200` http://10.77.0.31:8000/\n"
        "`ES_URL=https://es1:9200,https://es2:9200` `http://$HOST:8000/` `http://[::1]:8080/`\n"
    )
    assert outside_links(text) == [
        "http://evil.example:8080/",
        "http://example.com/x",
        "https://docs.djangoproject.com/en/5.2/",
    ]


def test_a_missing_command_is_caught():
    blocks = [
        [
            "bin/test --fast   # fine",
            "APP_ENV=test bin/stack status",
            "bin/no-such-script",
            "stack/conf/redis.conf",  # a file, not executable
            "uv run python manage.py reindex all",
            "uv run python manage.py no_such_command --json",
            "curl -s http://127.0.0.1:8080/  # not ours: not checked",
        ]
    ]
    assert missing_commands(blocks) == [
        "bin/no-such-script: not an executable file of the repository",
        "stack/conf/redis.conf: not an executable file of the repository",
        "manage.py no_such_command: no such management command",
    ]


def test_a_missing_path_is_caught():
    text = "`write_service/*/api.py` `bin/test --fast` `search_api/gone.py` `$STACK_CACHE/x/y` `/api/v1/`\n"
    assert missing_paths(text) == ["search_api/gone.py"]


def test_anchors_follow_github():
    assert github_anchor("The API reference page (`/docs/`)") == "the-api-reference-page-docs"
    assert github_anchor("Full text (`q`)") == "full-text-q"
    assert github_anchor("Rank, percentile and qualified at read time") == "rank-percentile-and-qualified-at-read-time"
