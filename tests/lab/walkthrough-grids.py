#!/usr/bin/env python3
"""walkthrough-grids.py DOC DIR: the outcome grids docs/walkthrough.md shows as measured (```text
blocks of matrix.txt grids, two side by side) are what the page's own runs measured: every
matrix.json under DIR/*/. A determined cell must show the outcome its run gave; a timing-dependent
or probabilistic one an outcome its cell allows (a lost chance may give another in a run). Every
grid cell must name a cell that ran. Prints one line per mismatch, exits 1 on any, 2 on bad
input."""
import glob
import json
import re
import sys

LETTER = {"D": "direct", "R": "relayed", "F": "failed", "X": "disputed", "E": "error", "-": "skipped"}
TITLE = re.compile(r"(\S+)/(udp|tcp)/(\S+?)(?: outer=(\S+))?(?=\s{2,}|\s*$)")


def text_blocks(path):
    blocks, cur = [], None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if cur is None and line == "```text":
                cur = []
            elif cur is not None and line.startswith("```"):
                blocks.append(cur)
                cur = None
            elif cur is not None:
                cur.append(line)
    return blocks


def grids(block):
    """Yield (topology, proto, technique, outer, {(a, b): letter}) for each grid of a block."""
    if not block or not TITLE.match(block[0]):
        return
    starts = [m.start() for m in TITLE.finditer(block[0])]
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else None
        part = [line[start:end].rstrip() for line in block]
        topo, proto, tech, outer = TITLE.match(part[0]).groups()
        rows = [line.split() for line in part[2:] if line.strip()]
        names = [r[0] for r in rows]
        cells = {}
        for r in rows:
            if len(r) != len(names) + 1:
                sys.exit(f"walkthrough-grids: a row of grid {part[0].strip()} has {len(r) - 1} "
                         f"outcomes, expected {len(names)}: {' '.join(r)}")
            for b, letter in zip(names, r[1:]):
                cells[(r[0], b)] = letter.rstrip("!+~ct")
        yield topo, proto, tech, outer, cells


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: walkthrough-grids.py DOC DIR")
    doc, top = sys.argv[1], sys.argv[2]
    ran = {}
    for path in glob.glob(f"{top}/*/matrix.json"):
        with open(path) as f:
            for c in json.load(f).get("cells", []):
                key = (c["topology"], c["proto"], c["technique"], c.get("outer") or None,
                       c["profile_a_name"], c.get("profile_b_name"))
                ran[key] = c
    bad = checked = 0
    for block in text_blocks(doc):
        for topo, proto, tech, outer, cells in grids(block):
            for (a, b), letter in sorted(cells.items()):
                title = f"{topo}/{proto}/{tech}{' outer=' + outer if outer else ''} {a}~{b}"
                c = ran.get((topo, proto, tech, outer, a, b))
                shown = LETTER.get(letter)
                if c is None:
                    print(f"{doc}: grid cell {title}: no such cell ran")
                    bad += 1
                    continue
                exp = c["refs"]["expected"]
                if shown is None:
                    print(f"{doc}: grid cell {title}: '{letter}' is no outcome letter")
                    bad += 1
                elif exp.get("class") == "determined" and shown != c["outcome"]:
                    print(f"{doc}: grid cell {title} shows {shown}, the run measured {c['outcome']}")
                    bad += 1
                elif shown not in exp.get("allowed", []) and shown != c["outcome"]:
                    print(f"{doc}: grid cell {title} shows {shown}, which the cell does not allow "
                          f"({', '.join(exp.get('allowed', []))}) and the run did not give ({c['outcome']})")
                    bad += 1
                checked += 1
    if checked == 0:
        print(f"{doc}: no outcome grid found in its text blocks")
        return 1
    print(f"walkthrough-grids: {checked} grid cells of {doc} against the runs' matrix.json: "
          f"{bad} mismatches")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
