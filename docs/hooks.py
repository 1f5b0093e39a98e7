"""MkDocs hooks: the site shows files that live elsewhere in the repository, without copying them.

- SECURITY.md, CHANGELOG.md and the model card stay where people look for them (the root, beside
  the weights) and become pages of the site at build time, their nested lists indented as MkDocs
  expects.
- A page's link to a line range of a source file, `[fit](../model/training.py#L171-L228)` as in
  how-it-works.md (it works on GitHub as written), would leave the site. Each source file so
  linked becomes a page of its own, its lines numbered, and the link opens it at the first line.
"""

import posixpath
import re
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[1]
PAGES = {
    "security.md": "SECURITY.md",
    "changelog.md": "CHANGELOG.md",
    "model-card.md": "model/weights/MODEL_CARD.md",
}
CODE_DIR = "code"
# ](../model/mlp.py#L78-L94): a package's source file, optionally a line or a range of lines.
SOURCE_LINK = re.compile(r"\]\(\.\./((?:model|data|service|scripts|lab)/[\w/]+\.py)(?:#L(\d+)(?:-L\d+)?)?\)")


def on_files(files, config):
    for page, source in PAGES.items():
        files.append(File.generated(config, page, abs_src_path=str(ROOT / source)))
    for path in sorted(linked_sources(Path(config.docs_dir))):
        files.append(File.generated(config, code_page(path), content=source_page(path)))
    return files


def on_page_markdown(markdown, page, config, files):
    if page.file.src_uri in PAGES:
        markdown = nested_as_mkdocs_reads_them(markdown)
    here = posixpath.dirname(page.file.src_uri)

    def into_site(match):
        path, line = match.group(1), match.group(2)
        target = posixpath.relpath(code_page(path), here or ".")
        return f"]({target}#__codelineno-0-{line})" if line else f"]({target})"

    return SOURCE_LINK.sub(into_site, markdown)


def on_page_content(html, page, config, files):
    """Let MkDocs check links to a source page's lines: it collects anchors before the code is
    highlighted, so it would not see the ones the highlighter makes."""
    if page.file.src_uri.startswith(f"{CODE_DIR}/"):
        page.present_anchor_ids |= set(re.findall(r'\bid="(__codelineno-[\w-]+)"', html))
    return html


def nested_as_mkdocs_reads_them(markdown):
    """The root files are written for GitHub, which nests a list under two spaces of indentation;
    Python-Markdown nests only under four. Indented lines outside code blocks get twice the indent."""
    lines, in_code = [], False
    for line in markdown.splitlines(keepends=True):
        if line.lstrip().startswith("```"):
            in_code = not in_code
        elif not in_code and line.startswith(" ") and line.strip():
            line = " " * (len(line) - len(line.lstrip(" "))) + line
        lines.append(line)
    return "".join(lines)


def linked_sources(docs_dir):
    """The source files the pages of `docs_dir` link to (only pages at its top: `../` is the root).

    A link to a file that does not exist gets no page, so MkDocs reports it as a broken link.
    """
    found = set()
    for page in docs_dir.glob("*.md"):
        found.update(match.group(1) for match in SOURCE_LINK.finditer(page.read_text()))
    return {path for path in found if (ROOT / path).is_file()}


def code_page(path):
    return f"{CODE_DIR}/{path}.md"


def source_page(path):
    """A page holding the file, its lines numbered: line N is the anchor __codelineno-0-N."""
    text = (ROOT / path).read_text()
    fence = "`" * max(3, 1 + max(map(len, re.findall(r"`+", text)), default=0))
    return f'# `{path}`\n\n{fence}python linenums="1"\n{text}{fence}\n'
