"""Checks that a Markdown document shows a file verbatim.

  doc_block.py DOC.md FILE MARKER

The first fenced block after the line containing MARKER must be FILE's text.
Prints a unified diff and exits 1 where they differ.
"""
import difflib
import sys

doc, path, marker = sys.argv[1:4]
lines = open(doc).read().split("\n")
try:
    start = next(i for i, l in enumerate(lines) if marker in l)
    open_fence = next(i for i in range(start, len(lines))
                      if lines[i].startswith("```"))
    close = next(i for i in range(open_fence + 1, len(lines))
                 if lines[i] == "```")
except StopIteration:
    sys.exit("%s: no fenced block after a line with '%s'" % (doc, marker))
shown = "\n".join(lines[open_fence + 1:close]) + "\n"
text = open(path).read()
if shown != text:
    sys.stdout.writelines(difflib.unified_diff(
        text.splitlines(True), shown.splitlines(True), path,
        "%s (line %d)" % (doc, open_fence + 2)))
    sys.exit(1)
print("%s shows %s verbatim" % (doc, path))
