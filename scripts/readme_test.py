"""The README's promises, checked (scripts/readme-test.sh runs this).

  python3 scripts/readme_test.py links   every relative link of README.md and docs/**/*.md
                                         reaches a file (and its #anchor a heading), the README
                                         links every docs/*.md and docs/services/*.md, and every
                                         script the README names exists and answers --help
  python3 scripts/readme_test.py run     every shell block marked `<!-- readme-test: expect
                                         STATUS... -->` runs under sh against the local stack
                                         (scripts/dev.sh) and its curl calls answer those
                                         statuses in order; every http://127.0.0.1 link of the
                                         README answers 200

Paths are relative to the repository root, which is the working directory.
"""

import pathlib
import re
import subprocess
import sys
import urllib.request

DOCS = [pathlib.Path("README.md"), *sorted(pathlib.Path("docs").rglob("*.md"))]
FENCE = re.compile(r"^(```|~~~)")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
MARK = re.compile(r"<!--\s*readme-test:\s*expect\s+([0-9 ]+?)\s*-->")
# Every curl of a block reports its status on stderr (curl's %{stderr}), the output it
# prints stays what a person sees. The -w goes last: curl keeps the last -w, so a block's
# own `-w '%{http_code}'` would otherwise hide the status from the check.
CURL = "curl() { command curl \"$@\" -w '%{stderr}HTTP %{http_code} %{url_effective}\\n'; }\n"


def prose_lines(text):
    """(line number, line) outside code fences."""
    inside = False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line.strip()):
            inside = not inside
            continue
        if not inside:
            yield number, line


def anchors(path):
    """The anchors GitHub makes of a Markdown file's headings."""
    seen = {}
    result = set()
    for _, line in prose_lines(path.read_text()):
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not heading:
            continue
        slug = re.sub(r"[^\w\- ]", "", heading.group(1).lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        result.add(slug if count == 0 else f"{slug}-{count}")
    return result


def check_links():
    problems = []
    for doc in DOCS:
        for number, line in prose_lines(doc.read_text()):
            # Inline code is not a link.
            for target in LINK.findall(re.sub(r"`[^`]*`", "", line)):
                if re.match(r"^[a-z]+:", target):
                    continue  # http(s), mailto: checked by `run` where local
                path, _, anchor = target.partition("#")
                resolved = (doc.parent / path).resolve() if path else doc.resolve()
                where = f"{doc}:{number}: {target}"
                if not resolved.exists():
                    problems.append(f"{where}: no such file")
                elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                    problems.append(f"{where}: no heading makes #{anchor}")
    readme = pathlib.Path("README.md").read_text()
    # Every reference is one click from the README: each Markdown file of docs/ and
    # docs/services/ is linked from it (a folder link is not: it is a listing to pick from).
    linked = {
        pathlib.Path(target.partition("#")[0]).resolve()
        for _, line in prose_lines(readme)
        for target in LINK.findall(re.sub(r"`[^`]*`", "", line))
        if not re.match(r"^[a-z]+:", target)
    }
    for doc in sorted([*pathlib.Path("docs").glob("*.md"), *pathlib.Path("docs/services").glob("*.md")]):
        if doc.resolve() not in linked:
            problems.append(f"README.md does not link {doc}: every reference must be one click from it")
    for script in sorted(set(re.findall(r"\b((?:scripts|bench)/[\w-]+\.sh)\b", readme))):
        if not pathlib.Path(script).is_file():
            problems.append(f"README.md names {script}: no such script")
            continue
        try:
            # A script without --help may start what it is for: a few seconds, then stop it.
            answer = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=20)
        except subprocess.TimeoutExpired:
            problems.append(f"{script} --help: still running after 20 s (no --help?)")
            continue
        if answer.returncode != 0 or not answer.stdout.strip():
            problems.append(f"{script} --help: exit {answer.returncode}, {answer.stderr.strip()}")
    return problems


def marked_blocks():
    """(file, line, expected statuses, block) for each block marked readme-test."""
    for doc in DOCS:
        lines = doc.read_text().splitlines()
        for index, line in enumerate(lines):
            mark = MARK.search(line)
            if not mark:
                continue
            start = index + 1
            if start >= len(lines) or not lines[start].startswith("```sh"):
                raise SystemExit(f"{doc}:{index + 1}: a readme-test mark must precede a ```sh block")
            end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("```"))
            yield doc, start + 1, mark.group(1).split(), "\n".join(lines[start + 1 : end]) + "\n"


def run_blocks(rounds):
    problems = []
    blocks = list(marked_blocks())
    if not blocks:
        return ["no block is marked `<!-- readme-test: expect ... -->`"]
    for round_ in range(1, rounds + 1):
        for doc, number, expected, block in blocks:
            # sh, not bash: a ```sh block must work in the shell its fence names (dash here).
            answer = subprocess.run(
                ["sh", "-eu", "-c", CURL + block], capture_output=True, text=True, timeout=120
            )
            got = [line.split()[1] for line in answer.stderr.splitlines() if line.startswith("HTTP ")]
            where = f"round {round_}: {doc}:{number}"
            if answer.returncode != 0 or got != expected:
                problems.append(
                    f"{where}: expected {' '.join(expected)}, got {' '.join(got) or 'nothing'}"
                    f" (exit {answer.returncode})\n--- output\n{answer.stdout}--- stderr\n{answer.stderr}"
                )
            else:
                print(f"PASS {where}: {' '.join(got)}")
    readme = pathlib.Path("README.md").read_text()
    for url in sorted(set(re.findall(r"\((http://127\.0\.0\.1:\d+/[^)\s]*)\)", readme))):
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:
                status = answer.status
        except Exception as error:  # noqa: BLE001 - any failure is the finding
            status = error
        if status != 200:
            problems.append(f"README.md links {url}: {status}")
        else:
            print(f"PASS README.md link {url}: 200")
    return problems


def main():
    what = sys.argv[1] if len(sys.argv) > 1 else ""
    if what == "links":
        problems = check_links()
    elif what == "run":
        problems = run_blocks(rounds=int(sys.argv[2]) if len(sys.argv) > 2 else 2)
    else:
        raise SystemExit(__doc__)
    for problem in problems:
        print(f"FAIL {problem}")
    print(f"readme-test {what}: {len(problems)} problem(s)")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
